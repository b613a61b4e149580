"""Scenario: poller freshness: how long after a change at the vendor its event is on Kafka.

What a consumer of the change-event feed cares about, measured from the outside: the poller
runs as its own process (``python -m gateway run --role poller``, configured only through
GATEWAY_* variables, so this scenario keeps working whatever the poller does inside) with
its default cadences (participants and room list every 5 s, statistics every 60 s, media
servers every 15 s) and the default account budget (50 requests/s, 2 % safety margin,
poller share 0.2: about 9.8 vendor requests/s for a poller-only process without Redis).
No Redis, no operations endpoint.

For N = 1,000 and N = 10,000 open rooms (``--quick``: 1,000, a shorter stream):

1. The simulator runs in its own process (no vendor-side rate limit) and is seeded through
   its scenario API with N open rooms of two participants each (``<room>-a``, ``<room>-b``).
2. The run gets fresh topics (events, state, lease), lease group and transactional id. The
   events topic is created here with ``message.timestamp.type=LogAppendTime``: a record's
   timestamp is when the broker appended it, "on Kafka" by the broker's clock (the same
   machine's clock as the harness's). The poller publishes a cycle's events in one
   transaction that commits right after its sends, so a ``read_committed`` consumer sees
   them milliseconds later (reported as ``commit_lag_p95_s``: consumer arrival - append).
3. The poller starts; the scenario waits until the N seeded rooms' ``room.opened`` events are
   on the topic (the first cycle: the room list, then participants and statistics of up to
   ``MAX_ROOMS_PER_CYCLE`` rooms at the poller's budget, ~100 s), then until every room's
   participants are on it too, at most ``--snapshot-wait`` seconds (120: enough at 1,000
   rooms; at 10,000 the poller's first pass over all participants takes far longer, and the
   report says how many rooms it had when the changes began), then 10 s more.
4. A stream of changes at the simulator, ``--rate`` per second (4) for ``--seconds`` (90;
   quick 40), over random rooms, a fixed mix and seed: 35 % joins (a new user), 30 % leaves
   (``-b`` leaves), 20 % mutes (``-a``'s audio to ``init``), 10 % room closes, 5 % room opens
   (a new room with one participant). Each room is changed at most once, so every expected
   event is unambiguous. A change's time is the midpoint of its scenario-API request
   (``time.time()`` at send and at the OK answer).
5. Expected events: join -> ``participant.joined``; leave -> ``participant.left`` (reason
   ``left``); mute -> ``participant.changed``; close -> ``room.closed`` and a
   ``participant.left`` (reason ``room_closed``) per participant (measured as
   ``participant.left (room closed)``), and a final ``room.statistics.changed`` with
   ``data.final`` if the poller emits one; open -> ``room.opened`` and
   ``participant.joined (room opened)``. Each is matched with the first event of its type,
   room and user appended after the change's request was sent; latency = append time -
   change time. After the last change the scenario waits up to ``--drain`` seconds (120) for
   stragglers; what is still unmatched counts as **missed**, per type, and is reported with
   how many of those changes hit a room whose participants were not yet on the topic (at
   10,000 rooms the poller's first pass over every room's participants takes many minutes at
   its budget: a leave or mute there has no earlier state to differ from).
6. Per N and per type: count, p50, p95, max, missed. Vendor requests come from the
   simulator's request log (``/_sim/requests``: vendor paths only, the harness's own
   ``/_sim`` calls are not in it): the poller's request rate over the change stream (and its
   busiest 1 s), and vendor requests per event emitted (every type) from the first change to
   the end of the wait. Also the time from one ``/room/list`` read to the next (a
   participants cycle and the wait after it) and what the poller's log says about its
   cycles (failed reads, warnings). The goal: the p95 of
   ``participant.joined``, ``participant.left``, ``room.opened`` and ``room.closed`` within
   the participants interval plus one cycle, taken as **10 s** (5 s + 5 s), a missed change
   counting as later than any bound; met or not met per N.

Prints progress on stderr and the report as one JSON line on stdout, writes
``bench/results/poller_freshness.{json,png}`` and the poller's own log per N
(``bench/results/poller_freshness-poller-<N>.log``). Needs Kafka (``scripts/services.sh
up``); Redis is not used.

    .venv/bin/python bench/poller_freshness.py                 # N = 1000 and 10000, ~15 min
    .venv/bin/python bench/poller_freshness.py --quick         # N = 1000, 40 s of changes, ~6 min
    .venv/bin/python bench/poller_freshness.py --rooms 1000 --seconds 60 --drain 60
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import PY, busiest_window, percentile, request_log, simulator
from plotting import RESULTS_DIR, emit

from gateway.app.embedded_simulator import SIMULATOR_KEYS_ENV
from rigkit.topics import unique_name

# The poller's defaults, as PollerSettings and RateLimitSettings have them: the scenario
# passes none of them, this only names them in the report and sizes the waits.
PARTICIPANTS_INTERVAL_S = 5.0
MAX_ROOMS_PER_CYCLE = 500
LANE_RATE_PER_S = 50.0 * (1 - 0.02) * 0.2
# The goal: participants interval + one cycle of the same length.
BOUND_S = 2 * PARTICIPANTS_INTERVAL_S
GOAL_TYPES = ("participant.joined", "participant.left", "room.opened", "room.closed")
MIX = {"join": 0.35, "leave": 0.30, "mute": 0.20, "close": 0.10, "open": 0.05}
FINAL_STATISTICS = "room.statistics.changed (final)"
# Measured types in report order.
MEASURES = (
    "participant.joined",
    "participant.left",
    "participant.changed",
    "room.opened",
    "room.closed",
    "participant.joined (room opened)",
    "participant.left (room closed)",
    FINAL_STATISTICS,
)
T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def seeded_room(i: int) -> str:
    return f"7{i:010d}"


def new_room(i: int) -> str:
    return f"6{i:010d}"


@dataclass(frozen=True, slots=True)
class Expect:
    """One event a change should cause: the measure it counts under and how to match it."""

    measure: str
    event: str  # type without the prefix
    room: str
    user: str | None = None
    reason: str | None = None  # participant.left's data.reason


@dataclass(slots=True)
class Change:
    kind: str
    room: str
    sent: float  # time.time() right before the request
    at: float  # midpoint of request and OK answer: the change's time
    snapshotted: bool  # the room's participants were on the topic before the change
    expects: list[Expect]


@dataclass
class EventLog:
    """The events topic read from its start (read_committed), indexed for matching."""

    bootstrap: str
    topic: str
    # (event, room, user, reason) -> append times (s), in offset order per partition
    times: dict[tuple[str, str, str | None, str | None], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    all_times: list[float] = field(default_factory=list)  # every event's append time
    counts: Counter[str] = field(default_factory=Counter)
    opened: set[str] = field(default_factory=set)
    first_joined: dict[str, float] = field(default_factory=dict)  # room -> first joined
    commit_lags: list[float] = field(default_factory=list)
    # Events appended after this (the end of the wait) do not count: the consumer may still
    # read a cycle that committed while the harness was stopping.
    until: float = math.inf
    timestamp_types: Counter[int] = field(default_factory=Counter)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        until = time.monotonic() + 4 * 3600  # stopped by stop(); bounded all the same
        while time.monotonic() < until:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=10000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    self._add(r.value, r.timestamp / 1000, r.timestamp_type, now)

    def _add(self, value: bytes, ts: float, ts_type: int, now: float) -> None:
        event = json.loads(value)
        name = str(event["type"]).split(".", 1)[1]  # "avd.room.opened" -> "room.opened"
        data = event.get("data") or {}
        room = str(data.get("room_id") or data.get("server_id") or "")
        user: str | None = data.get("user_id")
        reason: str | None = data.get("reason") if name == "participant.left" else None
        if name == "room.statistics.changed" and data.get("final"):
            name = FINAL_STATISTICS
        self.times[(name, room, user, reason)].append(ts)
        self.all_times.append(ts)
        self.counts[name] += 1
        self.timestamp_types[ts_type] += 1
        self.commit_lags.append(now - ts)
        if name == "room.opened":
            self.opened.add(room)
        elif name == "participant.joined" and room not in self.first_joined:
            self.first_joined[room] = ts

    def match(self, change: Change, expect: Expect) -> float | None:
        """Append time of the first matching event appended after the change was sent."""
        key = (expect.event, expect.room, expect.user, expect.reason)
        times = self.times.get(key, ())
        return min((t for t in times if change.sent <= t <= self.until), default=None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


async def create_events_topic(bootstrap: str, topic: str) -> None:
    """The events topic (3 partitions) with broker append times as record timestamps."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"message.timestamp.type": "LogAppendTime"}
        response = await admin.create_topics([NewTopic(topic, 3, 1, topic_configs=config)])
        for error in response.to_object()["topic_errors"]:
            if error["error_code"] != 0:
                raise RuntimeError(f"could not create {topic}: {error}")
        for _ in range(600):  # a leader per partition: the poller waits for the topic anyway
            described = await admin.describe_topics([topic])
            parts = described[0]["partitions"]
            if described[0]["error_code"] == 0 and parts and all(p["leader"] >= 0 for p in parts):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Best effort: a leftover topic costs only disk."""
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()
    except Exception as exc:  # cleanup must not hide the run's result
        say(f"could not delete topics {topics}: {exc!r}")


async def seed(url: str, rooms: int) -> None:
    """N open rooms with two participants each (the first join opens the room), 64 at once:
    one at a time, 10,000 rooms would take minutes."""
    limit = asyncio.Semaphore(64)
    async with httpx.AsyncClient(base_url=url, timeout=60) as sim:

        async def one(i: int) -> None:
            room = seeded_room(i)
            async with limit:
                for user in ("a", "b"):
                    r = await sim.post(
                        f"/_sim/rooms/{room}/participants", json={"user_id": f"{room}-{user}"}
                    )
                    r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(rooms)))


def poller_env(url: str, bootstrap: str, base: str) -> dict[str, str]:
    """The poller's settings: this run's topics, the simulator, everything else default.

    Every GATEWAY_* variable of this shell is dropped first: a GATEWAY_REDIS__URL (a shared
    limiter) or a changed cadence in the caller's environment would measure another setup.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(SIMULATOR_KEYS_ENV)
    env.update(
        {
            "GATEWAY_INSTANCE_ID": base,
            "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "GATEWAY_KAFKA__EVENTS_TOPIC": f"{base}.events",
            "GATEWAY_VENDOR__BASE_URL": url,
            "GATEWAY_POLLER__STATE_TOPIC": f"{base}.state",
            "GATEWAY_POLLER__LEASE_TOPIC": f"{base}.lease",
            "GATEWAY_POLLER__LEASE_GROUP": f"{base}.lease-group",
            "GATEWAY_POLLER__TRANSACTIONAL_ID": f"{base}.poller",
            "GATEWAY_OPS__ENABLED": "false",
            # JSON lines at INFO: the poller logs each cycle that emitted events or failed
            # reads; the report counts its warnings.
            "GATEWAY_LOG_LEVEL": "INFO",
            "GATEWAY_LOG_FORMAT": "json",
        }
    )
    return env


def start_poller(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    # Its own process group: stopping it stops whatever it started.
    return subprocess.Popen(  # noqa: S603 - our own module
        [PY, "-m", "gateway", "run", "--role", "poller"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_poller(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


async def wait_opened(
    events: EventLog, rooms: int, proc: subprocess.Popen[bytes], within: float
) -> float:
    """Seconds until every seeded room's room.opened is on the topic."""
    started, shown = time.monotonic(), 0.0
    wanted = {seeded_room(i) for i in range(rooms)}
    while True:
        have = len(wanted & events.opened)
        elapsed = time.monotonic() - started
        if have == rooms:
            return elapsed
        if proc.poll() is not None:
            raise RuntimeError(f"the poller exited with code {proc.returncode}")
        if elapsed > within:
            raise TimeoutError(f"{have:,} of {rooms:,} room.opened after {within:.0f} s")
        if elapsed - shown >= 15:
            shown = elapsed
            say(f"  initial snapshot: {have:,} of {rooms:,} room.opened, {dict(events.counts)}")
        await asyncio.sleep(0.2)


async def wait_participants(events: EventLog, rooms: int, within: float) -> float | None:
    """Seconds until every seeded room's participants are on the topic, or None after
    ``within``: the poller reads 500 rooms' participants per cycle at ~10 requests/s, so at
    10,000 rooms its first pass takes many minutes, more than a benchmark waits."""
    started, shown = time.monotonic(), time.monotonic()
    wanted = {seeded_room(i) for i in range(rooms)}
    while time.monotonic() - started < within:
        have = len(wanted & events.first_joined.keys())
        if have == rooms:
            return time.monotonic() - started
        if time.monotonic() - shown >= 15:
            shown = time.monotonic()
            say(f"  participants of {have:,} of {rooms:,} rooms on the topic")
        await asyncio.sleep(0.2)
    have = len(wanted & events.first_joined.keys())
    say(f"  participants of {have:,} of {rooms:,} rooms on the topic after {within:g} s: going on")
    return None


async def change_stream(
    url: str, rooms: int, rate: float, seconds: float, seed_value: int, events: EventLog
) -> list[Change]:
    """The changes, at a fixed rate, each room at most once (see the module docstring)."""
    rng = random.Random(seed_value)  # noqa: S311 - a reproducible draw, not a secret
    pool = [seeded_room(i) for i in range(rooms)]
    rng.shuffle(pool)
    kinds, weights = list(MIX), list(MIX.values())
    total = int(rate * seconds)
    changes: list[Change] = []
    opened = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as sim:
        t0 = time.monotonic()
        for i in range(total):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            kind = rng.choices(kinds, weights)[0]
            if kind == "open" or not pool:
                kind, room = "open", new_room(opened)
                opened += 1
            else:
                room = pool.pop()
            a, b = f"{room}-a", f"{room}-b"
            expects: list[Expect]
            if kind == "join":
                user = f"{room}-j"
                request = sim.build_request(
                    "POST", f"/_sim/rooms/{room}/participants", json={"user_id": user}
                )
                expects = [Expect("participant.joined", "participant.joined", room, user)]
            elif kind == "leave":
                request = sim.build_request("DELETE", f"/_sim/rooms/{room}/participants/{b}")
                expects = [Expect("participant.left", "participant.left", room, b, "left")]
            elif kind == "mute":
                request = sim.build_request(
                    "PATCH",
                    f"/_sim/rooms/{room}/participants/{a}",
                    json={"audio": {"status": "init"}},
                )
                expects = [Expect("participant.changed", "participant.changed", room, a)]
            elif kind == "close":
                request = sim.build_request("POST", f"/_sim/rooms/{room}/close")
                expects = [
                    Expect("room.closed", "room.closed", room),
                    *(
                        Expect(
                            "participant.left (room closed)",
                            "participant.left",
                            room,
                            u,
                            "room_closed",
                        )
                        for u in (a, b)
                    ),
                ]
            else:
                request = sim.build_request(
                    "POST", f"/_sim/rooms/{room}/participants", json={"user_id": a}
                )
                expects = [
                    Expect("room.opened", "room.opened", room),
                    Expect("participant.joined (room opened)", "participant.joined", room, a),
                ]
            sent = time.time()
            (await sim.send(request)).raise_for_status()
            done = time.time()
            joined = events.first_joined.get(room)
            changes.append(
                Change(
                    kind,
                    room,
                    sent,
                    (sent + done) / 2,
                    joined is not None and joined < sent,
                    expects,
                )
            )
            if i and i % int(rate * 15) == 0:
                say(f"  {i:,} of {total:,} changes made; events so far {dict(events.counts)}")
    return changes


def unmatched(changes: list[Change], events: EventLog) -> int:
    return sum(1 for c in changes for e in c.expects if events.match(c, e) is None)


def summarise_types(changes: list[Change], events: EventLog) -> dict[str, dict[str, Any]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    expected: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    missed_cold: Counter[str] = Counter()
    for change in changes:
        for expect in change.expects:
            expected[expect.measure] += 1
            at = events.match(change, expect)
            if at is None:
                missed[expect.measure] += 1
                if not change.snapshotted and change.kind != "open":
                    missed_cold[expect.measure] += 1
            else:
                latencies[expect.measure].append(at - change.at)
    # A final statistics event per closed room, if this poller emits any at all: then each
    # close expects one (and a close without it is missed); if it never does, no row.
    if events.counts[FINAL_STATISTICS]:
        for change in (c for c in changes if c.kind == "close"):
            expected[FINAL_STATISTICS] += 1
            expect = Expect(FINAL_STATISTICS, FINAL_STATISTICS, change.room)
            at = events.match(change, expect)
            if at is None:
                missed[FINAL_STATISTICS] += 1
            else:
                latencies[FINAL_STATISTICS].append(at - change.at)
    out: dict[str, dict[str, Any]] = {}
    for measure in MEASURES:
        if not expected[measure]:
            continue
        values = latencies[measure]
        n = expected[measure]
        # For the goal a missed change is later than any bound: the p95 over every expected
        # event with the missed ones last.
        with_missed = sorted(values) + [math.inf] * missed[measure]
        out[measure] = {
            "expected": n,
            "count": len(values),
            "missed": missed[measure],
            "missed_room_not_yet_snapshotted": missed_cold[measure],
            "p50_s": round(percentile(values, 50), 2) if values else None,
            "p95_s": round(percentile(values, 95), 2) if values else None,
            "max_s": round(max(values), 2) if values else None,
            "min_s": round(min(values), 2) if values else None,
            "p95_with_missed_s": _finite(percentile(with_missed, 95)),
        }
    return out


def _finite(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else round(value, 2)


def vendor_load(
    log: list[dict[str, Any]], start: float, end: float, events: EventLog
) -> dict[str, Any]:
    """The poller's vendor requests between ``start`` and ``end`` (wall clock)."""
    inside = [e for e in log if start <= e["ts"] <= end]
    times = [e["ts"] for e in inside]
    emitted = sum(1 for t in events.all_times if start <= t <= end)
    lists = sorted(e["ts"] for e in inside if e["path"] == "/room/list")
    gaps = [b - a for a, b in itertools.pairwise(lists)]
    seconds = end - start
    return {
        "window_s": round(seconds, 1),
        "requests": len(inside),
        "rate_per_s": round(len(inside) / seconds, 2) if seconds else None,
        "busiest_1s": busiest_window(times, 1.0),
        "busiest_10s_per_s": round(busiest_window(times, 10.0) / 10, 2),
        "by_path": dict(Counter(e["path"] for e in inside).most_common()),
        # HTTP status / the answer's ret (this vendor answers 0 or 200 for success).
        "answers": dict(Counter(f"{e.get('status')}/{e.get('ret')}" for e in inside)),
        "events_emitted": emitted,
        "requests_per_event": round(len(inside) / emitted, 2) if emitted else None,
        # Room list to room list: one participants cycle plus the wait before the next.
        "room_list_every_s": {
            "n": len(gaps),
            "median": round(statistics.median(gaps), 1) if gaps else None,
            "max": round(max(gaps), 1) if gaps else None,
        },
    }


def poller_log_summary(path: Path) -> dict[str, Any]:
    """From the poller's JSON log: its cycles that emitted events or had failed reads (it
    logs only those), their vendor calls, the failed reads by kind, warnings and errors."""
    cycles, calls, failed, problems = 0, [], Counter[str](), Counter[str]()
    pattern = re.compile(r"poller cycle: (\d+) events, (\d+) vendor calls, failed reads (.*)")
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if line.strip():
                problems["(not JSON) " + line[:80]] += 1
            continue
        message = str(record.get("message", ""))
        cycle = pattern.match(message)
        if cycle:
            cycles += 1
            calls.append(int(cycle.group(2)))
            if cycle.group(3) != "none":
                with contextlib.suppress(ValueError, SyntaxError):
                    failed.update(ast.literal_eval(cycle.group(3)))
        if record.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            problems[f"{record.get('level')}: {message[:100]}"] += 1
    return {
        "cycles_logged": cycles,
        "vendor_calls_per_logged_cycle_max": max(calls, default=0),
        "failed_reads": dict(failed),
        "warnings": dict(problems.most_common(10)),
    }


async def drain(
    changes: list[Change], events: EventLog, proc: subprocess.Popen[bytes], within: float
) -> None:
    """Until every expected event is on the topic, or ``within`` seconds."""
    deadline = time.monotonic() + within
    shown = time.monotonic()
    while time.monotonic() < deadline:
        left = unmatched(changes, events)
        if not left:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the poller exited with code {proc.returncode}")
        if time.monotonic() - shown >= 15:
            shown = time.monotonic()
            say(f"  {left} expected events not yet seen")
        await asyncio.sleep(0.5)


async def run_one(rooms: int, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    base = unique_name("bench-freshness")
    topics = [f"{base}.events", f"{base}.state", f"{base}.lease"]
    poller_log = RESULTS_DIR / f"poller_freshness-poller-{rooms}.log"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    await create_events_topic(args.kafka, topics[0])
    events = EventLog(args.kafka, topics[0])
    proc: subprocess.Popen[bytes] | None = None
    try:
        with simulator() as url, poller_log.open("wb") as log:
            try:
                say(f"N = {rooms:,}: seeding {rooms:,} rooms with 2 participants each")
                t = time.perf_counter()
                await seed(url, rooms)
                seed_s = time.perf_counter() - t
                say(f"  seeded in {seed_s:.1f} s")
                await events.start()
                proc = start_poller(poller_env(url, args.kafka, base), log)
                say(f"  poller started (pid {proc.pid}, topics {base}.*); waiting for the snapshot")
                # The first cycle reads up to 2 x 500 rooms at ~10/s (~100 s); generous.
                snapshot_s = await wait_opened(events, rooms, proc, within=600)
                say(f"  all {rooms:,} room.opened on the topic after {snapshot_s:.1f} s")
                participants_s = await wait_participants(events, rooms, args.snapshot_wait)
                await asyncio.sleep(args.settle)
                seeded = {seeded_room(i) for i in range(rooms)}
                rooms_snapshotted = len(seeded & events.first_joined.keys())
                say(f"  {args.seconds:g} s of changes at {args.rate:g}/s")
                t_changes = time.time()
                changes = await change_stream(
                    url, rooms, args.rate, args.seconds, args.seed + rooms, events
                )
                t_last = time.time()
                say(f"  {len(changes)} changes made; up to {args.drain:g} s more for their events")
                await drain(changes, events, proc, args.drain)
                t_end = time.time()
                events.until = t_end
                log_entries = await request_log(url)
            finally:
                # The poller first, while the simulator still answers it.
                if proc is not None:
                    stop_poller(proc)
                await events.stop()
    finally:
        await delete_topics(args.kafka, topics)
    types = summarise_types(changes, events)
    goal = {
        measure: {
            "p95_with_missed_s": types[measure]["p95_with_missed_s"],
            "met": types[measure]["p95_with_missed_s"] is not None
            and types[measure]["p95_with_missed_s"] <= BOUND_S,
        }
        for measure in GOAL_TYPES
        if measure in types
    }
    append_time = events.timestamp_types.get(1, 0) == sum(events.timestamp_types.values())
    lags = events.commit_lags
    result = {
        "rooms": rooms,
        "seed_s": round(seed_s, 1),
        "snapshot_s": round(snapshot_s, 1),
        # Seconds after the last room.opened until every seeded room had its participants on
        # the topic (None: not within --snapshot-wait), and how many had when changes began.
        "participants_snapshot_s": None if participants_s is None else round(participants_s, 1),
        "rooms_snapshotted_at_changes": rooms_snapshotted,
        "changes_s": round(t_last - t_changes, 1),
        "drain_s": round(t_end - t_last, 1),
        "changes": dict(Counter(c.kind for c in changes)),
        "changes_in_rooms_not_yet_snapshotted": sum(
            1 for c in changes if not c.snapshotted and c.kind != "open"
        ),
        "types": types,
        "goal": {"bound_s": BOUND_S, "met": all(g["met"] for g in goal.values()), "types": goal},
        "vendor": vendor_load(log_entries, t_changes, t_last, events),
        "vendor_whole_measurement": vendor_load(log_entries, t_changes, t_end, events),
        "events_by_type": dict(events.counts),
        "timestamps": "LogAppendTime" if append_time else f"mixed {dict(events.timestamp_types)}",
        "commit_lag_p95_s": round(percentile(lags, 95), 3) if lags else None,
        "poller_log": poller_log_summary(poller_log),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    say(f"N = {rooms:,} done in {result['duration_s']:.0f} s: {_one_line(result)}")
    return result


def _one_line(result: dict[str, Any]) -> str:
    parts = [
        f"{m} p50/p95/max {t['p50_s']}/{t['p95_s']}/{t['max_s']} s, "
        f"missed {t['missed']}/{t['expected']}"
        for m, t in result["types"].items()
    ]
    v, whole = result["vendor"], result["vendor_whole_measurement"]
    verdict = "met" if result["goal"]["met"] else "not met"
    return "; ".join(parts) + (
        f"; vendor {v['rate_per_s']}/s (busiest 1 s: {v['busiest_1s']}), "
        f"{whole['requests_per_event']} requests/event; goal p95 <= {BOUND_S:g} s: {verdict}"
    )


def plot(runs: list[dict[str, Any]]) -> None:
    """Per N: p50, p95 and max latency per event type (log scale), the bound, and missed."""
    from plotting import figure, save

    fig, axes = figure(len(runs), squeeze=False)
    shades = {"p50": "#9ecae1", "p95": "#3182bd", "max": "#08519c"}
    for ax, run in zip(axes[0], runs, strict=True):
        names = list(run["types"])
        xs = range(len(names))
        for k, (q, shade) in enumerate(shades.items()):
            values = [run["types"][n][f"{q}_s"] or 0 for n in names]
            ax.bar([x + (k - 1) * 0.27 for x in xs], values, 0.27, label=q, color=shade)
        top = max([run["types"][n]["max_s"] or 0 for n in names] + [BOUND_S])
        for x, n in zip(xs, names, strict=True):
            t = run["types"][n]
            if t["missed"]:
                ax.text(
                    x,
                    top * 1.5,
                    f"missed\n{t['missed']}/{t['expected']}",
                    ha="center",
                    fontsize=6,
                    color="#d62728",
                )
        ax.axhline(
            BOUND_S, color="#d62728", linestyle="--", linewidth=1, label=f"goal {BOUND_S:g} s"
        )
        ax.set_yscale("log")
        # Head room above the bars for the missed counts and the legend.
        ax.set_ylim(0.5, top * 12)
        labels = [n.replace(" (", "\n(") for n in names]
        ax.set_xticks(list(xs), labels, fontsize=5.5, rotation=35, ha="right")
        verdict = "goal met" if run["goal"]["met"] else "goal not met"
        ax.set_title(f"{run['rooms']:,} rooms: change → event on Kafka, s ({verdict})", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=5.5, loc="upper left", ncol=4)
    fig.suptitle(
        "poller freshness (default cadences, ~9.8 vendor requests/s, 4 changes/s)", fontsize=9
    )
    save(fig, "poller_freshness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, action="append", help="default: 1000 and 10000")
    parser.add_argument("--kafka", default=os.environ.get("GATEWAY_TEST_KAFKA", "127.0.0.1:9092"))
    parser.add_argument("--quick", action="store_true", help="1,000 rooms, 40 s of changes")
    parser.add_argument("--rate", type=float, default=4.0, help="changes per second (4)")
    parser.add_argument("--seconds", type=float, help="seconds of changes (90; quick 40)")
    parser.add_argument(
        "--drain", type=float, default=120.0, help="wait for stragglers after the last (120 s)"
    )
    parser.add_argument(
        "--snapshot-wait",
        type=float,
        default=120.0,
        help="after the room.opened events, wait up to this long for every room's participants"
        " (120 s)",
    )
    parser.add_argument("--settle", type=float, default=10.0, help="steady state before (10 s)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the changes")
    args = parser.parse_args()
    args.seconds = args.seconds or (40.0 if args.quick else 90.0)
    sizes = args.rooms or ([1000] if args.quick else [1000, 10000])
    runs = [asyncio.run(run_one(rooms, args)) for rooms in sizes]
    report = {
        "scenario": "poller_freshness",
        "quick": args.quick,
        "rooms": sizes,
        "poller": {
            "participants_interval_s": PARTICIPANTS_INTERVAL_S,
            "statistics_interval_s": 60.0,
            "media_servers_interval_s": 15.0,
            "max_rooms_per_cycle": MAX_ROOMS_PER_CYCLE,
            "concurrency": 8,
            "rate_per_s": 50.0,
            "poller_share": 0.2,
            "lane_rate_per_s": round(LANE_RATE_PER_S, 2),
        },
        "change_rate_per_s": args.rate,
        "change_seconds": args.seconds,
        "change_mix": MIX,
        "drain_s": args.drain,
        "snapshot_wait_s": args.snapshot_wait,
        "settle_s": args.settle,
        "seed": args.seed,
        "bound_s": BOUND_S,
        "goal_types": list(GOAL_TYPES),
        "goal": {str(r["rooms"]): "met" if r["goal"]["met"] else "not met" for r in runs},
        "runs": runs,
        "total_s": round(time.perf_counter() - T0, 1),
    }
    plot(runs)
    emit("poller_freshness", report)


if __name__ == "__main__":
    main()
