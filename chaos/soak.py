"""The soak: ``python chaos/soak.py --minutes 60`` (``make soak``; ``make soak-quick``: 10).

Mixed load on the three roles for a long while, sampled every 10 s, then judged twice: the
trend of each sampled metric after the warm-up against its bound (chaos/soak_report.py), and
an audit of everything the load did (one result per command, no double mutation, no
rate-limit violation, every poller change reported once, every webhook accepted). See the
"Soak" section of chaos/README.md for what runs, what is sampled and the bounds.

Writes ``chaos/results/soak/samples-<N>min.csv`` and ``summary-<N>min.{md,json}`` (git-ignored,
with every process's log under ``logs/``) and the plot ``docs/soak/soak-<N>min.png``; prints
the summary. Exit status 1 unless both verdicts pass.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import json
import logging
import math
import os
import platform
import random
import shutil
import sys
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from chaos.kafkaio import BatchFollower, wait_group_members
from chaos.procs import Replica, Supervisor, free_port
from chaos.report_doc import write_part
from chaos.services import ROOT, kafka_bootstrap, kafka_ready
from chaos.simctl import RATE_LIMIT, Sim, executed, sim_process
from chaos.soak_report import (
    ROLES,
    SoakAudit,
    judge,
    plot,
    read_samples,
    render_summary,
)
from gateway.webhooks.signature import signed_headers
from rigkit.topics import CommandTopics, create_topics

log = logging.getLogger("soak")

# -- the load ---------------------------------------------------------------------------------

COMMAND_RATE = 50.0  # commands/s to the commands topic
WEBHOOK_RATE = 10.0  # signed requests/s to the webhooks ingress
CHURN_RATE = 3.0  # poller changes/s through the scenario API
COMMAND_ROOMS = 200  # existing rooms the commands update and read
POLLER_ROOMS = 1000  # open rooms the poller watches
PARTITIONS = 8
SAMPLE_S = 10.0
REQUEST_LOG_EVERY_S = 5.0
WEBHOOK_RESULTS_INDEX = 1000  # results the webhooks role keeps (default 10,000): full in 100 s
QUIET_S = 30.0  # a poller room (or user) changes again only after this long: each change is
# seen by the poller on its own (participants interval 5 s), so each expects its own events
DELETE_AFTER_S = 20.0  # a room made by RoomCreate is deleted by a RoomDelete this much later

# The idempotency store: SQLite in a file of the run; outcomes kept 120 s and purged every
# 30 s, so the file reaches its steady size after ~2.5 minutes, inside every warm-up.
RETENTION_S = 120.0
PURGE_INTERVAL_S = 30.0

# The commands' mix, per 100: mutations (RoomCreate of a new room, RoomDelete of it 20 s later,
# RoomUpdate of an existing room, each naming its command in the vendor request) and queries.
MIX = {
    "RoomUpdate": 28,
    "RoomRead": 24,
    "ParticipantList": 16,
    "RoomStatisticGet": 11,
    "RoomCreate": 10,
    "RoomDelete": 10,
    "RoomList": 1,
}
MUTATIONS = {"RoomCreate": "/room/create", "RoomUpdate": "/room/update", "RoomDelete": "/room/del"}

# Vendor side and gateway side of the rate limit, as in the chaos suite (chaos/rig.py): the
# commands process keeps to its lane (80 % of 95/s = 76/s for 60 commands/s), the poller
# process to its own (19/s); apart (no Redis) neither borrows the other's slots.
GATEWAY_SAFETY_MARGIN = 0.05
GATEWAY_BURST_HEADROOM = 5
POLLER_SHARE = 0.2

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"soak-webhook-secret-0123456789ab").decode()

DEFAULT_OUT = ROOT / "chaos" / "results" / "soak"
PLOTS = ROOT / "docs" / "soak"


def command_room(i: int) -> str:
    return f"4{i:010d}"


def poller_room(i: int) -> str:
    return f"5{i:010d}"


def new_room(i: int) -> str:
    return f"3{i:010d}"


def default_warmup_minutes(minutes: float) -> float:
    """10 minutes of a run of 30 minutes or more; else 30 % of it (3 of a 10-minute run)."""
    return 10.0 if minutes >= 30 else round(0.3 * minutes, 2)


def schedule(rng: random.Random) -> list[str]:
    """One round of 100 command types in MIX's proportions, in a fixed shuffled order."""
    slots = [name for name, n in MIX.items() for _ in range(n)]
    rng.shuffle(slots)
    return slots


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Run:
    """What the run keeps while it goes; the audit reads it at the end."""

    topics: CommandTopics
    events_topic: str
    sqlite_path: Path
    started: float = 0.0  # time.monotonic() when the load started
    load_s: float = 0.0
    phase: str = "setup"
    # command id -> type, for every command Kafka acknowledged (or the ingress accepted)
    expected: dict[str, str] = field(default_factory=dict)
    by_type: Counter[str] = field(default_factory=Counter)
    unacked: int = 0
    mutation_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (path, ident)
    result_counts: Counter[str] = field(default_factory=Counter)
    not_succeeded: dict[str, str] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)
    results_read: int = 0
    # vendor request log, read as it goes
    log_seq: int = 0
    vendor_requests: int = 0
    executed_mutations: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    log_lost: int = 0  # request-log entries gone before they were read
    recent_arrivals: deque[float] = field(default_factory=deque)  # the last second's
    over_limit: list[dict[str, Any]] = field(default_factory=list)  # the vendor's flags
    # webhooks
    webhook_statuses: Counter[int] = field(default_factory=Counter)
    # poller
    poller_changes: int = 0
    expected_events: Counter[tuple[str, str, str | None, str | None]] = field(
        default_factory=Counter
    )
    got_events: Counter[tuple[str, str, str | None, str | None]] = field(default_factory=Counter)
    pending_times: dict[tuple[str, str, str | None, str | None], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    delays: list[float] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    event_ids_twice: int = 0
    events_read: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    next_sequence: dict[str, int] = field(default_factory=dict)
    sequence_problems: list[str] = field(default_factory=list)
    sequence_problem_count: int = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.started else 0.0

    def poller_missing(self) -> int:
        return sum(max(0, n - self.got_events[k]) for k, n in self.expected_events.items())

    def results_missing(self) -> int:
        return sum(1 for cid in self.expected if self.result_counts[cid] == 0)


# -- Kafka: the load producer, the follower and the lag ---------------------------------------


class Producer:
    """Idempotent producer; a command counts as sent once Kafka acknowledged it."""

    def __init__(self, bootstrap: str, run: Run) -> None:
        self.run = run
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=120_000,
        )
        self._pending: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self.flush()
        await self._producer.stop()

    async def send(self, topic: str, envelope: dict[str, Any], key: bytes) -> None:
        cid, kind = envelope["id"], envelope["type"]
        run = self.run
        try:
            future = await self._producer.send(topic, json.dumps(envelope).encode(), key=key)
        except KafkaError as exc:
            run.unacked += 1
            log.warning("send of %s failed: %r", cid, exc)
            return

        def landed(done: asyncio.Future[Any]) -> None:
            self._pending.discard(done)
            if done.cancelled() or done.exception() is not None:
                run.unacked += 1
                return
            run.expected[cid] = kind
            run.by_type[kind] += 1

        self._pending.add(future)
        future.add_done_callback(landed)

    async def flush(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._producer.flush()
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=120)


class Follower(BatchFollower):
    """Reads results and poller events read_committed from the start, keeping counts only."""

    def __init__(self, bootstrap: str, run: Run) -> None:
        super().__init__(bootstrap, run.topics.results, run.events_topic)
        self.run = run

    async def _read(self, batch: dict[TopicPartition, list[ConsumerRecord]], now: float) -> None:
        for tp, records in batch.items():
            for r in records:
                if tp.topic == self.run.topics.results:
                    self._result(r.value)
                else:
                    self._event(r.value, now)
        await asyncio.sleep(0)

    def _result(self, value: bytes | None) -> None:
        run = self.run
        run.results_read += 1
        try:
            data = json.loads(value or b"{}")["data"]
            cid, status = str(data["command_id"]), str(data.get("status"))
        except (ValueError, KeyError, TypeError):
            cid, status, data = "<unreadable result>", "unreadable", {}
        run.result_counts[cid] += 1
        if run.result_counts[cid] == 1:
            if status != "succeeded":
                error = data.get("error") or {}
                vendor = data.get("vendor") or {}
                run.not_succeeded[cid] = (
                    f"{data.get('command_type')}:{status}:{error.get('error_class')}"
                    f":{vendor.get('ret')}"
                )
            if data.get("replayed"):
                run.replayed.add(cid)

    def _event(self, value: bytes | None, now: float) -> None:
        run = self.run
        run.events_read += 1
        try:
            event = json.loads(value or b"{}")
        except ValueError:
            run.sequence_problem_count += 1
            return
        kind = str(event.get("type", "")).removeprefix("avd.")
        data = event.get("data") or {}
        run.events_by_type[kind] += 1
        ident = str(event.get("id"))
        if ident in run.event_ids:
            run.event_ids_twice += 1
        else:
            run.event_ids.add(ident)
        # Sequences count per room opening: room.opened starts a new run at 1.
        key = f"{event.get('account')}/{event.get('partitionkey')}"
        sequence = int(data.get("sequence", 0) or 0)
        want = 1 if kind == "room.opened" else run.next_sequence.get(key, 1)
        if sequence != want:
            run.sequence_problem_count += 1
            if len(run.sequence_problems) < 10:
                run.sequence_problems.append(f"{key} {kind}: sequence {sequence}, expected {want}")
        run.next_sequence[key] = sequence + 1
        room = str(data.get("room_id"))
        if kind in ("room.opened", "room.closed"):
            k: tuple[str, str, str | None, str | None] = (kind, room, None, None)
        elif kind in ("participant.joined", "participant.left"):
            reason = str(data.get("reason")) if kind == "participant.left" else None
            k = (kind, room, str(data.get("user_id")), reason)
        else:
            return
        run.got_events[k] += 1
        pending = run.pending_times.get(k)
        if pending:
            run.delays.append(now - pending.popleft())


class Lag:
    """Consumer lag of the commands group: end offsets minus committed offsets."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.group = group
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()
        self._consumer.assign(self.partitions)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def read(self) -> float:
        try:
            committed = await self._admin.list_consumer_group_offsets(self.group)
            ends = await self._consumer.end_offsets(self.partitions)
        except (KafkaError, OSError) as exc:
            log.info("lag: %r", exc)
            return math.nan
        total = 0
        for tp in self.partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            total += max(0, ends[tp] - done)
        return float(total)


# -- the loads ----------------------------------------------------------------------------------


async def paced(rate: float, until: float, one: Any) -> None:
    """``await one(i)`` at ``rate`` per second until ``time.monotonic()`` passes ``until``."""
    t0, i = time.monotonic(), 0
    while time.monotonic() < until:
        due = int((time.monotonic() - t0) * rate) + 1
        while i < due and time.monotonic() < until:
            await one(i)
            i += 1
        await asyncio.sleep(max(0.0, min(0.05, t0 + i / rate - time.monotonic())))


class Commands:
    """The commands topic's load: MIX over the command rooms, RoomCreate/RoomDelete pairs."""

    def __init__(self, run: Run, producer: Producer, rng: random.Random) -> None:
        self.run, self.producer, self.rng = run, producer, rng
        self.slots = schedule(rng)
        self.created: deque[tuple[float, str]] = deque()
        self.rooms_made = 0

    def envelope(self, i: int) -> tuple[bytes, dict[str, Any]]:
        kind = self.slots[i % len(self.slots)]
        cid = f"soak-{i}-{uuid.uuid4().hex[:6]}"
        room = command_room(self.rng.randrange(COMMAND_ROOMS))
        now = time.monotonic()
        payload: dict[str, Any]
        if kind == "RoomDelete":
            if self.created and self.created[0][0] <= now - DELETE_AFTER_S:
                room = self.created.popleft()[1]
            else:
                kind = "RoomRead"  # nothing old enough to delete yet
        if kind == "RoomCreate":
            room = new_room(self.rooms_made)
            self.rooms_made += 1
            self.created.append((now, room))
            payload = {"room_id": room, "topic": cid}
        elif kind == "RoomUpdate":
            payload = {"room_id": room, "topic": cid}
        elif kind == "RoomStatisticGet":
            end = int(time.time())
            payload = {"room_id": room, "start_time": end - 3600, "end_time": end}
        elif kind == "RoomList":
            payload = {}
            room = "list"
        else:  # RoomRead, ParticipantList, RoomDelete
            payload = {"room_id": room}
        if kind in MUTATIONS:
            ident = cid if kind == "RoomUpdate" else room
            self.run.mutation_of[cid] = (MUTATIONS[kind], ident)
        return room.encode(), {"id": cid, "type": kind, "payload": payload}

    async def one(self, i: int) -> None:
        key, envelope = self.envelope(i)
        await self.producer.send(self.run.topics.commands, envelope, key)


async def webhook_load(run: Run, port: int, until: float, rng: random.Random) -> None:
    """Signed POST /v1/commands at WEBHOOK_RATE: RoomUpdate and RoomRead on the command rooms."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:

        async def one(i: int) -> None:
            cid = f"wh-{i}-{uuid.uuid4().hex[:6]}"
            room = command_room(rng.randrange(COMMAND_ROOMS))
            if i % 2 == 0:
                envelope = {
                    "id": cid,
                    "type": "RoomUpdate",
                    "payload": {"room_id": room, "topic": cid},
                }
            else:
                envelope = {"id": cid, "type": "RoomRead", "payload": {"room_id": room}}
            body = json.dumps(envelope).encode()
            headers = {"content-type": "application/json", **signed_headers(WEBHOOK_SECRET, body)}
            try:
                answer = await http.post("/v1/commands", content=body, headers=headers)
                status = answer.status_code
            except httpx.HTTPError as exc:
                log.warning("webhook request failed: %r", exc)
                status = 0
            run.webhook_statuses[status] += 1
            if 200 <= status < 300:
                run.expected[cid] = envelope["type"]
                run.by_type[f"{envelope['type']} (webhook)"] += 1
                if envelope["type"] == "RoomUpdate":
                    run.mutation_of[cid] = ("/room/update", cid)

        await paced(WEBHOOK_RATE, until, one)


@dataclass
class PollerRoom:
    users: list[str]
    open: bool = True
    last: float = 0.0  # time.monotonic() of its last change


class Churn:
    """Joins, leaves, closes and (re)opens among the poller's rooms through the scenario API,
    each with the events it must cause."""

    def __init__(self, run: Run, sim: Sim, rng: random.Random) -> None:
        self.run, self.sim, self.rng = run, sim, rng
        self.rooms = {poller_room(i): PollerRoom([f"s{i}a", f"s{i}b"]) for i in range(POLLER_ROOMS)}
        self.names = list(self.rooms)
        self.users = 0
        self.skipped = 0
        self.kinds: Counter[str] = Counter()

    def expect(self, *keys: tuple[str, str, str | None, str | None], timed: bool = True) -> None:
        """The events a change must cause; ``timed``: measure change -> event (not for the
        seeded rooms, whose events wait for the poller's start)."""
        now = time.time()
        for k in keys:
            self.run.expected_events[k] += 1
            if timed:
                self.run.pending_times[k].append(now)

    async def seed(self) -> None:
        """Every poller room open with two participants (the first join opens it)."""
        limit = asyncio.Semaphore(32)

        async def one(room: str) -> None:
            async with limit:
                for user in self.rooms[room].users:
                    await self.sim.post(f"/_sim/rooms/{room}/participants", {"user_id": user})

        await asyncio.gather(*(one(r) for r in self.names))
        for room, state in self.rooms.items():
            self.expect(
                ("room.opened", room, None, None),
                *(("participant.joined", room, u, None) for u in state.users),
                timed=False,
            )

    def _pick(self, want_open: bool, least_users: int = 0) -> str | None:
        quiet = time.monotonic() - QUIET_S
        for _ in range(60):
            room = self.rng.choice(self.names)
            s = self.rooms[room]
            if s.open == want_open and s.last <= quiet and len(s.users) >= least_users:
                return room
        return None

    async def one(self, _: int) -> None:
        open_now = sum(1 for s in self.rooms.values() if s.open)
        kind = self.rng.choices(["join", "leave", "close", "open"], [35, 35, 15, 15])[0]
        if kind == "open" and open_now > POLLER_ROOMS - 5:
            kind = "close"
        elif kind == "close" and open_now < POLLER_ROOMS - 25:
            kind = "open"
        room = self._pick(kind != "open", 2 if kind == "leave" else 0)
        if room is None:
            self.skipped += 1
            return
        s = self.rooms[room]
        if kind in ("join", "open"):
            self.users += 1
            user = f"j{self.users}"
            await self.sim.post(f"/_sim/rooms/{room}/participants", {"user_id": user})
            if kind == "open":
                self.expect(("room.opened", room, None, None))
            self.expect(("participant.joined", room, user, None))
            s.users.append(user)
            s.open = True
        elif kind == "leave":
            user = s.users.pop(self.rng.randrange(len(s.users)))
            await self.sim.delete(f"/_sim/rooms/{room}/participants/{user}")
            self.expect(("participant.left", room, user, "left"))
        else:
            await self.sim.post(f"/_sim/rooms/{room}/close")
            self.expect(
                ("room.closed", room, None, None),
                *(("participant.left", room, u, "room_closed") for u in s.users),
            )
            s.users, s.open = [], False
        s.last = time.monotonic()
        self.kinds[kind] += 1
        self.run.poller_changes += 1


async def follow_request_log(run: Run, sim: Sim, until: float) -> None:
    """The request log every REQUEST_LOG_EVERY_S during the load: a few hundred entries a
    time. (Read once a minute, a page of ~5,000 entries kept the simulator's event loop busy
    long enough that the requests arriving meanwhile were stamped together: violations.)"""
    while time.monotonic() < until:
        await asyncio.sleep(REQUEST_LOG_EVERY_S)
        await read_request_log(run, sim)


async def read_request_log(run: Run, sim: Sim) -> None:
    """The vendor requests since the last read: mutations that reached the vendor, per the
    command (RoomUpdate: its topic) or room (RoomCreate, RoomDelete) they name."""
    entries = await sim.requests(since=run.log_seq)
    if entries and int(entries[0]["seq"]) > run.log_seq + 1:
        # The simulator's ring (500,000 entries) dropped requests before they were read.
        run.log_lost += int(entries[0]["seq"]) - run.log_seq - 1
    recent = run.recent_arrivals
    for e in entries:
        run.log_seq = max(run.log_seq, int(e["seq"]))
        run.vendor_requests += 1
        mono = float(e["mono"])
        recent.append(mono)
        while recent and recent[0] < mono - 1.0:
            recent.popleft()
        if e.get("over_limit") and len(run.over_limit) < 50:
            # Which process sent it, and how crowded the vendor's arrivals were just before.
            agent = str((e.get("headers") or {}).get("user-agent", "")).rsplit("(", 1)[-1]
            run.over_limit.append(
                {
                    "at": datetime.fromtimestamp(float(e["ts"]), UTC).strftime("%H:%M:%S.%f")[:-3],
                    "path": e["path"],
                    "sender": agent.rstrip(")"),
                    "in_prev_100ms": sum(1 for t in recent if t >= mono - 0.1),
                    "in_prev_1s": len(recent),
                }
            )
        path = e["path"]
        if path in ("/room/create", "/room/update", "/room/del") and executed(e):
            params = e.get("params") or {}
            ident = params.get("topic") if path == "/room/update" else params.get("room_id")
            run.executed_mutations[path][str(ident)] += 1


# -- sampling -----------------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _fds(pid: int) -> float:
    try:
        return float(len(os.listdir(f"/proc/{pid}/fd")))
    except OSError:
        return math.nan


def _vendor_conns(pid: int, vendor_port: int) -> float:
    """The process's TCP sockets connected to the simulator: its pooled vendor connections."""
    remote: dict[str, int] = {}  # socket inode -> remote port
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                remote[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    count = 0
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:[") and remote.get(target[8:-1]) == vendor_port:
                    count += 1
    except OSError:
        return math.nan
    return float(count)


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return math.nan


async def _tasks(http: httpx.AsyncClient, port: int) -> tuple[float, float]:
    """(asyncio tasks, of which the poller cycle's per-room reads) from one /metrics scrape."""
    try:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
    except httpx.HTTPError:
        return math.nan, math.nan
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("gateway_asyncio_tasks", "gateway_poller_reads_pending"):
            found[name] = float(value)
    return found.get("gateway_asyncio_tasks", math.nan), found.get(
        "gateway_poller_reads_pending", 0.0
    )


def _file_mb(path: Path) -> float:
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total / 1e6


class Sampler:
    """Every SAMPLE_S: per gateway process RSS, fds, asyncio tasks and CPU seconds; the SQLite
    file; the commands group's lag. One CSV row each, flushed at once."""

    def __init__(
        self, run: Run, replicas: dict[str, Replica], lag: Lag, out: IO[str], vendor_port: int
    ) -> None:
        self.run, self.replicas, self.lag = run, replicas, lag
        self.vendor_port = vendor_port
        columns = ["t_s", "wall", "phase"]
        for role in ROLES:
            columns += [
                f"{role}_{m}"
                for m in ("rss_mb", "fds", "fds_all", "vendor_conns", "tasks", "tasks_all", "cpu_s")
            ]
        columns += ["sqlite_mb", "lag", "commands_sent", "results", "poller_events"]
        self.writer = csv.DictWriter(out, fieldnames=columns)
        self.writer.writeheader()
        self.out = out
        self.last: dict[str, Any] = {}

    async def sample(self, http: httpx.AsyncClient) -> dict[str, Any]:
        run = self.run
        row: dict[str, Any] = {
            "t_s": round(run.elapsed(), 1),
            "wall": datetime.now(UTC).strftime("%H:%M:%S"),
            "phase": run.phase,
        }
        for role in ROLES:
            replica = self.replicas[role]
            pid = replica.process.pid if replica.process is not None and replica.alive else None
            row[f"{role}_rss_mb"] = round(_rss_mb(pid), 2) if pid else math.nan
            fds = _fds(pid) if pid else math.nan
            conns = _vendor_conns(pid, self.vendor_port) if pid else math.nan
            # Judged: descriptors less the vendor pool, whose size is the high-water mark of
            # concurrent vendor requests (judged against its own ceiling).
            row[f"{role}_fds"] = fds - conns
            row[f"{role}_fds_all"] = fds
            row[f"{role}_vendor_conns"] = conns
            tasks, reads = await _tasks(http, replica.ops_port) if pid else (math.nan, 0.0)
            # Judged: the tasks other than the poller cycle's per-room reads, which come and
            # go by the hundred with each cycle (up to max_rooms_per_cycle at once).
            row[f"{role}_tasks"] = tasks - reads
            row[f"{role}_tasks_all"] = tasks
            row[f"{role}_cpu_s"] = round(_cpu_s(pid), 2) if pid else math.nan
        row["sqlite_mb"] = round(_file_mb(run.sqlite_path), 3)
        row["lag"] = await self.lag.read()
        row["commands_sent"] = len(run.expected)
        row["results"] = run.results_read
        row["poller_events"] = run.events_read
        self.writer.writerow(row)
        self.out.flush()
        self.last = row
        return row

    async def loop(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient() as http:
            t0 = time.monotonic()
            n = 0
            while not stop.is_set():
                await self.sample(http)
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), max(0.0, t0 + n * SAMPLE_S - time.monotonic())
                    )


def log_fds(replicas: dict[str, Replica], path: Path, run: Run) -> None:
    """What each process's descriptors are (sockets, pipes, files by name), once a minute."""
    with path.open("a", encoding="utf-8") as out:
        for role, replica in replicas.items():
            if replica.process is None or not replica.alive:
                continue
            kinds: Counter[str] = Counter()
            fd_dir = Path(f"/proc/{replica.process.pid}/fd")
            with contextlib.suppress(OSError):
                for fd in fd_dir.iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        kinds[target.split("[", 1)[0] if "[" in target else target] += 1
            out.write(f"{run.elapsed():7.0f} s {role}: {dict(kinds.most_common())}\n")


# -- processes ----------------------------------------------------------------------------------


def role_env(
    role: str, run: Run, bootstrap: str, vendor_url: str, webhooks_port: int
) -> dict[str, str]:
    base = run.topics.base
    env = {
        "GATEWAY_INSTANCE_ID": f"soak-{role}",
        **run.topics.kafka_env(bootstrap),
        "GATEWAY_KAFKA__EVENTS_TOPIC": run.events_topic,
        "GATEWAY_VENDOR__BASE_URL": vendor_url,
        "GATEWAY_VENDOR__ACCESS_KEY": "demo_access",  # the simulator's demo account
        "GATEWAY_VENDOR__SECRET_KEY": "demo_secret",
        "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "true",
        "GATEWAY_VENDOR__RATE_LIMIT__RATE_PER_S": str(RATE_LIMIT["rate_per_s"]),
        "GATEWAY_VENDOR__RATE_LIMIT__BURST": str(RATE_LIMIT["burst"]),
        "GATEWAY_VENDOR__RATE_LIMIT__SAFETY_MARGIN": str(GATEWAY_SAFETY_MARGIN),
        "GATEWAY_VENDOR__RATE_LIMIT__BURST_HEADROOM": str(GATEWAY_BURST_HEADROOM),
        "GATEWAY_VENDOR__RATE_LIMIT__POLLER_SHARE": str(POLLER_SHARE),
        "GATEWAY_OPS__ENABLED": "true",  # /metrics: gateway_asyncio_tasks
        "GATEWAY_OPS__HOST": "127.0.0.1",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "INFO" if role == "poller" else "WARNING",
        "CHAOS_LOOP_LAG_MS": "250",  # chaos/taskdump.py logs event-loop lag above this
    }
    if role == "commands":
        env.update(
            {
                "GATEWAY_IDEMPOTENCY__BACKEND": "sqlite",
                "GATEWAY_IDEMPOTENCY__SQLITE_PATH": str(run.sqlite_path),
                "GATEWAY_IDEMPOTENCY__RETENTION_S": str(RETENTION_S),
                "GATEWAY_IDEMPOTENCY__PURGE_INTERVAL_S": str(PURGE_INTERVAL_S),
                "GATEWAY_COMMANDS__GRACE_PERIOD_S": "10",
            }
        )
    elif role == "poller":
        env.update(
            {
                "GATEWAY_POLLER__STATE_TOPIC": f"{base}.poller-state",
                "GATEWAY_POLLER__LEASE_TOPIC": f"{base}.poller-lease",
                "GATEWAY_POLLER__LEASE_GROUP": f"{base}.poller-lease-group",
                "GATEWAY_POLLER__TRANSACTIONAL_ID": f"{base}.poller",
            }
        )
    else:
        env.update(
            {
                "GATEWAY_WEBHOOKS__HOST": "127.0.0.1",
                "GATEWAY_WEBHOOKS__PORT": str(webhooks_port),
                "GATEWAY_WEBHOOKS__SENDERS": f"soak={WEBHOOK_SECRET}",
                "GATEWAY_WEBHOOKS__RESULTS_INDEX_SIZE": str(WEBHOOK_RESULTS_INDEX),
            }
        )
    return env


async def wait_http(url: str, replica: Replica, within: float) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        end = time.monotonic() + within
        while time.monotonic() < end:
            if not replica.alive:
                raise RuntimeError(f"{replica.name} exited ({replica.log})")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {within:.0f} s")


async def wait_for(predicate: Any, within: float, what: str, every: float = 15.0) -> bool:
    end, shown = time.monotonic() + within, time.monotonic()
    while time.monotonic() < end:
        if predicate():
            return True
        if time.monotonic() - shown >= every:
            shown = time.monotonic()
            say(f"  waiting for {what} ...")
        await asyncio.sleep(0.5)
    return bool(predicate())


T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[soak {time.monotonic() - T0:7.1f} s] {message}", flush=True)


# -- the audit ----------------------------------------------------------------------------------


def audit_of(
    run: Run,
    violations: int,
    replicas: dict[str, Replica],
    churn: Churn,
    supervisor_events: list[str],
) -> SoakAudit:
    audit = SoakAudit()
    audit.commands_sent = len(run.expected)
    audit.commands_by_type = dict(run.by_type)
    audit.results = sum(1 for cid in run.expected if run.result_counts[cid] == 1)
    audit.missing = run.results_missing()
    audit.duplicates = sum(n - 1 for n in run.result_counts.values() if n > 1)
    audit.unknown_results = sum(
        n for cid, n in run.result_counts.items() if cid not in run.expected
    )
    failed = {cid: why for cid, why in run.not_succeeded.items() if cid in run.expected}
    audit.not_succeeded = len(failed)
    if failed:
        reasons = Counter(failed.values()).most_common(5)
        audit.problems.append(f"commands that did not succeed: {dict(reasons)}")
    # Double mutations: a mutation's request reached the vendor's endpoint more than once.
    for path, counts in run.executed_mutations.items():
        audit.vendor_mutations += sum(counts.values())
        audit.double_mutations += sum(1 for n in counts.values() if n > 1)
        doubled = [ident for ident, n in counts.items() if n > 1][:5]
        if doubled:
            audit.notes.append(f"{path} executed more than once for {doubled}")
    for cid, (path, ident) in run.mutation_of.items():
        if (
            cid in run.expected
            and run.result_counts[cid] > 0
            and cid not in run.not_succeeded
            and cid not in run.replayed
            and run.executed_mutations[path][ident] == 0
        ):
            audit.mutations_without_vendor_call += 1
    audit.violations = violations
    if run.log_lost:
        audit.problems.append(
            f"{run.log_lost} vendor requests left the simulator's log before the audit read "
            "them: the double-mutation count is incomplete"
        )
    if run.over_limit:
        audit.notes.append(
            "requests the vendor flagged (time, path, sender, arrivals in the 100 ms / 1 s "
            "before; the vendor allows "
            f"{RATE_LIMIT['burst'] + RATE_LIMIT['rate_per_s'] * 0.1:g} / "
            f"{RATE_LIMIT['burst'] + RATE_LIMIT['rate_per_s']:g}): "
            + "; ".join(
                f"{o['at']} {o['path']} {o['sender']} {o['in_prev_100ms']}/{o['in_prev_1s']}"
                for o in run.over_limit[:10]
            )
        )
    audit.vendor_requests = run.vendor_requests
    audit.webhook_requests = sum(run.webhook_statuses.values())
    audit.webhook_2xx = sum(n for s, n in run.webhook_statuses.items() if 200 <= s < 300)
    audit.webhook_statuses = {str(k): v for k, v in sorted(run.webhook_statuses.items())}
    if audit.webhook_requests != audit.webhook_2xx:
        audit.notes.append(f"webhook answers: {audit.webhook_statuses}")
    # The poller.
    audit.poller_changes = run.poller_changes
    audit.poller_expected_events = sum(run.expected_events.values())
    audit.poller_missing = run.poller_missing()
    audit.poller_matched = audit.poller_expected_events - audit.poller_missing
    audit.poller_duplicates = sum(
        max(0, run.got_events[k] - n) for k, n in run.expected_events.items()
    )
    unexpected = {k: n for k, n in run.got_events.items() if k not in run.expected_events}
    audit.poller_unexpected = sum(unexpected.values())
    if unexpected:
        audit.notes.append(f"poller events no change explains, e.g. {list(unexpected)[:3]}")
    if audit.poller_missing:
        lost = [k for k, n in run.expected_events.items() if run.got_events[k] < n][:5]
        audit.notes.append(f"poller events missing, e.g. {lost}")
    audit.poller_sequence_problems = run.sequence_problem_count
    if run.sequence_problems:
        audit.notes.append(f"sequence problems, e.g. {run.sequence_problems[:3]}")
    audit.poller_event_ids_twice = run.event_ids_twice
    audit.poller_events = run.events_read
    if run.delays:
        ordered = sorted(run.delays)
        audit.poller_delay_p95_s = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        audit.poller_delay_max_s = ordered[-1]
    audit.notes.append(
        f"poller changes by kind: {dict(churn.kinds)} (skipped for want of a quiet room: "
        f"{churn.skipped}); events by type: {dict(run.events_by_type.most_common())}"
    )
    audit.unexpected_exits = sum(len(r.unexpected_exits) for r in replicas.values())
    lags = {}
    for role, replica in replicas.items():
        with contextlib.suppress(OSError):
            text = replica.log.read_text(errors="replace")
            stalls = [
                int(line.rsplit(" ", 2)[-2])
                for line in text.splitlines()
                if line.endswith(" ms") and " event loop lag " in line
            ]
            if stalls:
                lags[role] = f"{len(stalls)} (longest {max(stalls)} ms)"
    if lags:
        audit.notes.append(f"event-loop stalls over 250 ms (chaos/taskdump.py): {lags}")
    audit.notes += [f"supervisor: {e}" for e in supervisor_events]
    if run.unacked:
        audit.notes.append(f"{run.unacked} sends Kafka did not acknowledge (not counted as sent)")
    return audit


# -- main -----------------------------------------------------------------------------------------


async def soak(args: argparse.Namespace) -> int:
    bootstrap = kafka_bootstrap()
    if not await kafka_ready(10):
        raise SystemExit(f"soak: Kafka does not answer on {bootstrap} (make services)")
    # The gateway processes get exactly the settings below, whatever this shell exports.
    for name in [k for k in os.environ if k.startswith("GATEWAY_")]:
        del os.environ[name]
    minutes, warmup_min = args.minutes, args.warmup_minutes
    tag = f"{minutes:g}min"
    out: Path = args.out
    logs = out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True, exist_ok=True)
    sqlite_path = out / "idempotency.sqlite3"  # parse() removed the last run's
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible draw, not a secret
    topics = CommandTopics.fresh("soak")
    run = Run(topics, f"{topics.base}.events", sqlite_path)
    run.load_s = minutes * 60
    await topics.create(bootstrap, PARTITIONS)
    await create_topics(bootstrap, [(run.events_topic, 3)])
    say(f"{minutes:g} min, warm-up {warmup_min:g} min, topics {topics.base}, seed {args.seed}")
    samples_path = out / f"samples-{tag}.csv"
    replicas: dict[str, Replica] = {}
    stop_sampling = asyncio.Event()
    supervisor_events: list[str] = []
    violations = {"count": -1}
    with sim_process(5.0, logs / "simulator.log") as url, samples_path.open("w", newline="") as f:
        sim = Sim(url)
        churn = Churn(run, sim, rng)
        webhooks_port = free_port()
        producer = Producer(bootstrap, run)
        follower = Follower(bootstrap, run)
        lag = Lag(bootstrap, topics.commands, topics.group)
        try:
            say(f"seeding {COMMAND_ROOMS} command rooms and {POLLER_ROOMS} poller rooms")
            for i in range(COMMAND_ROOMS):  # closed rooms: the poller watches open ones only
                await sim.post("/_sim/rooms", {"room_id": command_room(i), "topic": "soak"})
                await sim.post(f"/_sim/rooms/{command_room(i)}/close")
            await churn.seed()
            await follower.start()
            await producer.start()
            await lag.start()
            for role in ROLES:
                env = role_env(role, run, bootstrap, url, webhooks_port)
                replicas[role] = Replica(f"soak-{role}", role, env, logs / f"{role}.log")
                replicas[role].start()
            async with Supervisor(list(replicas.values())) as supervisor:
                if not await wait_group_members(bootstrap, topics.group, 1, within=90):
                    raise RuntimeError("the commands role did not join its group in 90 s")
                await wait_http(
                    f"http://127.0.0.1:{webhooks_port}/healthz", replicas["webhooks"], 60
                )
                say("waiting for the poller's first snapshot of the seeded rooms")
                if not await wait_for(lambda: run.poller_missing() == 0, 300, "the snapshot"):
                    raise RuntimeError(
                        f"the poller's snapshot lacks {run.poller_missing()} events after 300 s"
                    )
                sampler = Sampler(run, replicas, lag, f, int(url.rsplit(":", 1)[1]))
                commands = Commands(run, producer, rng)
                run.started = time.monotonic()
                run.phase = "load"
                until = run.started + run.load_s
                sampling = asyncio.create_task(sampler.loop(stop_sampling))
                say(
                    f"load for {minutes:g} min: {COMMAND_RATE:g} commands/s, {WEBHOOK_RATE:g} "
                    f"webhooks/s, {CHURN_RATE:g} poller changes/s"
                )
                loads = [
                    asyncio.create_task(paced(COMMAND_RATE, until, commands.one)),
                    asyncio.create_task(webhook_load(run, webhooks_port, until, rng)),
                    asyncio.create_task(paced(CHURN_RATE, until, churn.one)),
                ]
                reader = asyncio.create_task(follow_request_log(run, sim, until))
                loads.append(reader)
                while time.monotonic() < until:
                    await asyncio.sleep(min(60.0, max(0.0, until - time.monotonic())))
                    log_fds(replicas, logs / "fds.log", run)
                    for task in loads:
                        if task.done() and task.exception() is not None:
                            raise task.exception()  # type: ignore[misc]
                    row = sampler.last
                    say(
                        f"{run.elapsed() / 60:5.1f} min: sent {len(run.expected):,}, results "
                        f"{run.results_read:,}, lag {row.get('lag')}, poller events "
                        f"{run.events_read:,} (missing now {run.poller_missing()}), RSS "
                        + ", ".join(f"{r} {row.get(f'{r}_rss_mb')}" for r in ROLES)
                        + f", tasks {[row.get(f'{r}_tasks') for r in ROLES]}, sqlite "
                        f"{row.get('sqlite_mb')} MB"
                    )
                await asyncio.gather(*loads)
                run.phase = "drain"
                await producer.flush()
                say("load done; waiting for the last results and poller events")
                await wait_for(lambda: run.results_missing() == 0, 120, "results")
                await wait_for(lambda: run.poller_missing() == 0, 120, "poller events")
                if run.results_missing():
                    for replica in replicas.values():
                        replica.dump_tasks()
                await asyncio.sleep(5)  # a duplicate would show now
                await read_request_log(run, sim)
                violations = await sim.violations()
                stop_sampling.set()
                await sampling
                supervisor_events = list(supervisor.events)
        finally:
            stop_sampling.set()
            codes = await asyncio.gather(
                *(asyncio.to_thread(r.stop) for r in replicas.values()), return_exceptions=True
            )
            for name, code in zip(replicas, codes, strict=True):
                if code not in (0, None):
                    supervisor_events.append(f"{name} stopped with exit code {code!r}")
            await follower.stop()
            await producer.stop()
            await lag.stop()
            await sim.aclose()
    # -- judge --
    audit = audit_of(run, int(violations["count"]), replicas, churn, supervisor_events)
    rows = read_samples(samples_path)
    warmup_s = warmup_min * 60
    trends = judge(rows, warmup_s)
    png = PLOTS / f"soak-{tag}.png"
    title = f"soak {minutes:g} min, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    plot(rows, trends, warmup_s, png, title)
    header = (
        f"## Soak ({minutes:g} min)\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores; "
        f"`python chaos/soak.py --minutes {minutes:g}` (warm-up {warmup_min:g} min, seed "
        f"{args.seed}). Load: {COMMAND_RATE:g} commands/s over {COMMAND_ROOMS} rooms "
        f"({', '.join(f'{k} {v}%' for k, v in MIX.items())}) to one commands replica "
        f"(SQLite idempotency, retention {RETENTION_S:g} s, purge every "
        f"{PURGE_INTERVAL_S:g} s); {WEBHOOK_RATE:g} signed webhook requests/s (RoomUpdate, "
        f"RoomRead); the poller on {POLLER_ROOMS:,} open rooms with {CHURN_RATE:g} changes/s "
        f"(joins, leaves, closes, reopens); vendor limit {RATE_LIMIT['rate_per_s']:g}/s."
    )
    summary = render_summary(
        trends, audit, header=header, warmup_s=warmup_s, plot_path=str(png.relative_to(ROOT))
    )
    (out / f"summary-{tag}.md").write_text(summary, encoding="utf-8")
    (PLOTS / f"soak-{tag}.md").write_text(summary, encoding="utf-8")  # kept with the plot
    if minutes >= 60:  # the hour-long soak is the one docs/chaos.md shows
        write_part(
            "soak", summary.replace(f"Plot: `{png.relative_to(ROOT)}`", f"![soak](soak/{png.name})")
        )
    trends_json = [
        {"column": t.column, "passed": t.passed, **asdict(t.fit), "bound": asdict(t.bound)}
        for t in trends
    ]
    payload = {
        "minutes": minutes,
        "warmup_minutes": warmup_min,
        "trends": trends_json,
        "audit": asdict(audit),
        "audit_passed": audit.passed,
    }
    (out / f"summary-{tag}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print()
    print(summary)
    print(
        f"written: {samples_path}, {out}/summary-{tag}.md, {png.relative_to(ROOT)} and "
        f"{png.with_suffix('.md').relative_to(ROOT)}"
    )
    passed = audit.passed and all(t.passed for t in trends) and bool(trends)
    return 0 if passed else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chaos/soak.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="load duration (60)")
    parser.add_argument(
        "--warmup-minutes",
        type=float,
        default=None,
        help="left out of the fits (default: 10 for runs of 30 minutes or more, else 30 %%)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw results directory")
    args = parser.parse_args(argv)
    if args.warmup_minutes is None:
        args.warmup_minutes = default_warmup_minutes(args.minutes)
    if args.warmup_minutes >= args.minutes:
        parser.error("the warm-up must be shorter than the run")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # the last run's idempotency store
        (args.out / f"idempotency.sqlite3{suffix}").unlink(missing_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(soak(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
