"""Implementation-neutral benchmark harness.

A scenario writes commands to a commands topic; the system under test (the gateway, the
baseline loop, or any command given with ``--sut``) turns them into vendor calls against the
simulator and writes results to a results topic; the harness reads the results, the
simulator's request log and the SUT process's CPU and RSS. Every SUT is started the same way:
a shell command with the GATEWAY_* variables naming the topics, group and vendor URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

# the repo root, for rigkit (the editable install has it on sys.path already)
sys.path.append(str(Path(__file__).resolve().parent.parent))

from rigkit.topics import CommandTopics

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PY = sys.executable
GATEWAY_SUT = f"{shlex.quote(PY)} -m gateway run --role commands"
BASELINE_SUT = f"{shlex.quote(PY)} {shlex.quote(str(ROOT / 'bench' / 'baseline_loop.py'))}"
BASELINE_AIOHTTP_SUT = (
    f"{shlex.quote(PY)} {shlex.quote(str(ROOT / 'bench' / 'baseline_loop_aiohttp.py'))}"
)

__all__ = [
    "BASELINE_AIOHTTP_SUT",
    "BASELINE_SUT",
    "GATEWAY_SUT",
    "SIMULATOR_PIDS",
    "ResultCollector",
    "RunStats",
    "SutRun",
    "clear_requests",
    "new_topics",
    "percentile",
    "process_tree",
    "running_sut",
    "scenario_parser",
    "simulator",
    "sut_usage",
    "systems_under_test",
]

SIMULATOR_PIDS: dict[str, int] = {}
"""Base URL -> pid of each simulator ``simulator()`` is running (for its CPU time)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@contextmanager
def simulator(latency_ms: float = 0.0, rate_limit: dict[str, Any] | None = None) -> Iterator[str]:
    """The vendor simulator in its own process; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_SIMULATOR_FAULTS__LATENCY__FIXED_MS": str(latency_ms),
        "GATEWAY_SIMULATOR_REQUEST_LOG_SIZE": "500000",
    }
    if rate_limit:
        for k, v in rate_limit.items():
            # A mapping (per_path) as JSON, which pydantic-settings parses; the rest as text.
            value = json.dumps(v) if isinstance(v, dict) else str(v)
            env[f"GATEWAY_SIMULATOR_FAULTS__RATE_LIMIT__{k.upper()}"] = value
    proc = subprocess.Popen([PY, "-m", "gateway", "simulator", "--port", str(port)], env=env)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    SIMULATOR_PIDS[url] = proc.pid
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/_sim/calls", timeout=0.5).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        SIMULATOR_PIDS.pop(url, None)
        proc.terminate()
        proc.wait(10)


def new_topics() -> CommandTopics:
    """A run's own topics; the SUT's consumer group is ``<base>.sut``."""
    return CommandTopics.fresh("bench", group_suffix="sut")


def room_ids(keys: int) -> list[str]:
    """The rooms (and Kafka keys) the commands scenarios use."""
    return [f"8{k:010d}" for k in range(keys)]


async def seed_rooms(vendor_url: str, keys: int) -> None:
    """Create the scenarios' rooms in the simulator (RoomUpdate needs an existing room)."""
    async with httpx.AsyncClient(base_url=vendor_url, timeout=30) as sim:
        for room in room_ids(keys):
            (await sim.post("/_sim/rooms", json={"room_id": room})).raise_for_status()


def room_updates(n: int, keys: int) -> list[tuple[bytes, dict[str, Any]]]:
    """N RoomUpdate commands over ``keys`` rooms, round-robin; the command id is the topic.

    The vendor request carries the command id (``topic``), so the simulator's request log
    tells each command's own vendor time (``vendor_times``).
    """
    rooms = room_ids(keys)
    commands = []
    for i in range(n):
        cid, room = str(uuid.uuid4()), rooms[i % keys]
        commands.append(
            (
                room.encode(),
                {"id": cid, "type": "RoomUpdate", "payload": {"room_id": room, "topic": cid}},
            )
        )
    return commands


def sut_env(
    topics: CommandTopics, bootstrap: str, vendor_url: str, in_flight: int, **extra: str
) -> dict[str, str]:
    """The environment every SUT of the commands scenarios gets: the same in-flight bound and
    connection pool size, no rate limit unless ``extra`` sets one.

    The httpx minimal loop keeps 20 idle keep-alive connections (its own default, unless
    GATEWAY_VENDOR__MAX_KEEPALIVE_CONNECTIONS says otherwise): httpcore 1.0.9's pool does
    work per pooled connection on every request (its ``_assign_requests_to_connections``,
    encode/httpcore#1035), so a pool keeping all 64 connections alive costs about 3 ms of CPU
    per request against 0.8 ms with 20 (measured here with 64 concurrent requests at 20 ms).
    The gateway and the aiohttp minimal loop pool up to the in-flight bound of connections.
    """
    return {
        **os.environ,
        **topics.kafka_env(bootstrap),
        "GATEWAY_VENDOR__BASE_URL": vendor_url,
        # The simulator's demo account (the gateway has no default keys).
        "GATEWAY_VENDOR__ACCESS_KEY": "demo_access",
        "GATEWAY_VENDOR__SECRET_KEY": "demo_secret",
        "GATEWAY_INSTANCE_ID": topics.base,
        "GATEWAY_IDEMPOTENCY__SQLITE_PATH": str(
            ROOT / ".cache" / "bench" / f"{topics.base}.sqlite3"
        ),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_OPS__PORT": str(free_port()),
        "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "false",
        "GATEWAY_COMMANDS__MAX_IN_FLIGHT": str(in_flight),
        "GATEWAY_VENDOR__MAX_CONNECTIONS": str(in_flight),
        **extra,
    }


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now, parents first (from each thread's
    ``/proc/<pid>/task/<tid>/children``: a child started by another thread than the main one
    is listed only there); processes that exit meanwhile are skipped."""
    tree, todo, seen = [], [pid], set()
    while todo:
        p = todo.pop(0)
        if p in seen:
            continue
        seen.add(p)
        tree.append(p)
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
    return tree


def _proc_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user+system) and RSS bytes of a process and all its descendants, from
    /proc: a SUT of several processes (worker processes, a JVM behind a shell) is measured
    whole.

    CPU counts each live process's own time and the time of its children that have exited
    and been waited for (``cutime``/``cstime``), so a descendant that ends between two
    readings still counts. RSS is the sum of the processes' resident sets (pages they share
    counted once per process). A descendant re-parented away (daemonised) is not seen.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu, rss = 0.0, 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            if p == pid:
                raise
            continue  # exited since the tree was read: its time is in its parent's cutime
        # after the ")": state ppid ... utime(11) stime(12) cutime(13) cstime(14) ... rss(21)
        cpu += sum(int(x) for x in parts[11:15]) / ticks
        rss += int(parts[21]) * page
    return cpu, rss


def sut_usage(proc: subprocess.Popen[bytes]) -> tuple[float, int]:
    """CPU seconds and RSS bytes of a SUT started by ``start_sut``: its whole process tree,
    from the shell the harness started (see ``_proc_usage``)."""
    return _proc_usage(proc.pid)


@dataclass
class RunStats:
    """What one run measured."""

    sut: str
    commands: int
    results: int
    seconds: float
    throughput: float
    added_p50_ms: float
    added_p95_ms: float
    added_p99_ms: float
    cpu_s: float
    rss_mb: float
    statuses: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def produce_commands(
    bootstrap: str, topic: str, commands: list[tuple[bytes, dict[str, Any]]]
) -> dict[str, float]:
    """Send commands; returns the send time of each command id."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=262144)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        for key, command in commands:
            sent[command["id"]] = time.time()
            await producer.send(topic, json.dumps(command).encode(), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def result_data(value: bytes) -> dict[str, Any]:
    """The result data (`command_id`, `status`, ...) of one record of the results topic.

    A result is `{"data": {...}}` (the gateway's CloudEvent, the baseline loop), or the HTTP
    exchange that the Kafka Connect baseline (bench/connect/) writes: the command id is the
    request's X-Request-ID header, and the command succeeded if the vendor answered HTTP 2xx
    with `ret` 0.
    """
    record = json.loads(value)
    if "data" in record or "httpRequest" not in record:
        return record["data"]  # type: ignore[no-any-return]
    request, response = record["httpRequest"], record.get("httpResponse") or {}
    try:
        ret = json.loads(response.get("bodyAsString") or "{}").get("ret", -1)
    except ValueError:
        ret = -1
    ok = 200 <= int(response.get("statusCode") or 0) < 300 and ret == 0
    return {
        "command_id": request["headers"]["X-Request-ID"][0],
        "status": "succeeded" if ok else "failed",
        "duration_ms": record.get("durationInMillis"),
    }


async def collect_results(
    bootstrap: str, topic: str, expected: int, within: float
) -> dict[str, tuple[float, dict[str, Any]]]:
    """command id -> (arrival time, result data), read_committed from the start."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, tuple[float, dict[str, Any]]] = {}
    try:
        end = time.monotonic() + within
        while len(seen) < expected and time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    data = result_data(r.value)
                    seen.setdefault(data["command_id"], (now, data))
    finally:
        await consumer.stop()
    return seen


class ResultCollector:
    """Reads the results topic (read_committed, from the start) in the background.

    Started before the commands are produced, so that a result's arrival time is when a
    consumer could first see it, not when the harness got round to reading it.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        deadline = time.monotonic() + 20
        while not self._consumer.assignment() and time.monotonic() < deadline:
            await self._consumer.getmany(timeout_ms=50)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        until = time.monotonic() + 3600  # stopped by stop(); bounded all the same
        while time.monotonic() < until:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    data = result_data(r.value)
                    self.seen.setdefault(data["command_id"], (now, data))

    async def wait_for(self, ids: set[str] | list[str], within: float) -> int:
        """Wait (at most ``within`` s) until every id has a result; how many are missing."""
        end = time.monotonic() + within
        missing = [i for i in ids if i not in self.seen]
        while missing and time.monotonic() < end:
            await asyncio.sleep(0.05)
            missing = [i for i in missing if i not in self.seen]
        return len(missing)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def produce_at_rate(
    bootstrap: str,
    topic: str,
    commands: list[tuple[bytes, dict[str, Any]]],
    rate_per_s: float,
) -> dict[str, float]:
    """Send commands at a fixed arrival rate (command i at t0 + i / rate); their send times.

    Paced in 5 ms ticks: each tick sends the commands that are due, so arrivals stay on
    schedule even when one send call takes longer than the interval between two commands.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        i = 0
        while i < len(commands):
            due = min(len(commands), int((time.perf_counter() - t0) * rate_per_s) + 1)
            while i < due:
                key, command = commands[i]
                sent[command["id"]] = time.time()
                await producer.send(topic, json.dumps(command).encode(), key=key)
                i += 1
            next_at = t0 + i / rate_per_s
            await asyncio.sleep(max(0.0, min(0.005, next_at - time.perf_counter())))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def wait_ready(
    bootstrap: str, topics: CommandTopics, vendor_url: str, proc: subprocess.Popen[bytes]
) -> None:
    """One warm-up command through the SUT, so the run does not time its start-up."""
    warm = {"id": f"warmup-{uuid.uuid4().hex}", "type": "RoomList", "payload": {}}
    await produce_commands(bootstrap, topics.commands, [(b"warmup", warm)])
    got = await collect_results(bootstrap, topics.results, 1, within=60)
    if warm["id"] not in got:
        raise RuntimeError(f"SUT did not answer the warm-up command (exit code {proc.poll()})")


def start_sut(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, shell=True, env=env, start_new_session=True)  # noqa: S602 - the user's SUT command


def stop_sut(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return  # already gone: its exit code tells the caller why
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def sut_pid(proc: subprocess.Popen[bytes]) -> int:
    """The pid doing the work: the shell's single child if the SUT was started through one
    (for a profiler; CPU and RSS are measured over the whole tree, ``sut_usage``)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return int(kids[0]) if kids else proc.pid


@dataclass
class SutRun:
    """A SUT that ``running_sut`` started: its topics, its process, a collector of its results."""

    topics: CommandTopics
    proc: subprocess.Popen[bytes]
    collector: ResultCollector


@asynccontextmanager
async def running_sut(
    command: str, args: argparse.Namespace, vendor_url: str, **extra_env: str
) -> AsyncIterator[SutRun]:
    """Run ``command`` as the SUT on its own new topics (``args``: ``scenario_parser``'s
    options; ``extra_env``: see ``sut_env``), past its warm-up command; then stop it.

    The result collector is made but not started: the scenario starts it when its timing does.
    """
    topics = new_topics()
    await topics.create(args.bootstrap, args.partitions)
    env = sut_env(topics, args.bootstrap, vendor_url, args.in_flight, **extra_env)
    proc = start_sut(command, env)
    collector = ResultCollector(args.bootstrap, topics.results)
    try:
        await wait_ready(args.bootstrap, topics, vendor_url, proc)
        yield SutRun(topics, proc, collector)
    finally:
        await collector.stop()
        stop_sut(proc)


async def clear_requests(vendor_url: str) -> None:
    """Empty the simulator's request log (each SUT's run reads only its own requests)."""
    async with httpx.AsyncClient(base_url=vendor_url) as sim:
        (await sim.delete("/_sim/requests")).raise_for_status()


async def request_log(vendor_url: str) -> list[dict[str, Any]]:
    """Every entry of the simulator's request log (oldest first), paged."""
    entries: list[dict[str, Any]] = []
    since = 0
    async with httpx.AsyncClient(base_url=vendor_url, timeout=30) as sim:
        for _ in range(10_000):  # bounded: 20,000 entries a page
            page = (await sim.get("/_sim/requests", params={"since": since, "limit": 20000})).json()
            entries += page["entries"]
            since = page["last_seq"]
            if not page.get("more"):
                break
    return entries


async def vendor_times(vendor_url: str) -> dict[str, float]:
    """Per command id (the `topic` parameter of RoomUpdate), the vendor's own time in ms."""
    out: dict[str, float] = {}
    for e in await request_log(vendor_url):
        cid = e["params"].get("topic")
        if cid:
            out[cid] = e.get("duration_ms") or 0.0
    return out


def summarise(
    sut: str,
    sent: dict[str, float],
    got: dict[str, tuple[float, dict[str, Any]]],
    vendor_ms: dict[str, float],
    cpu: float,
    rss: int,
) -> RunStats:
    ids = [i for i in sent if i in got]
    first, last = min(sent.values()), max(got[i][0] for i in ids) if ids else time.time()
    added = [max(0.0, (got[i][0] - sent[i]) * 1000 - vendor_ms.get(i, 0.0)) for i in ids]
    statuses: dict[str, int] = {}
    for i in ids:
        s = got[i][1].get("status", "?")
        statuses[s] = statuses.get(s, 0) + 1
    seconds = last - first
    return RunStats(
        sut,
        len(sent),
        len(ids),
        round(seconds, 3),
        round(len(ids) / seconds, 1) if seconds else 0.0,
        round(percentile(added, 50), 2),
        round(percentile(added, 95), 2),
        round(percentile(added, 99), 2),
        round(cpu, 2),
        round(rss / 2**20, 1),
        statuses,
    )


def busiest_window(times: list[float], width: float) -> int:
    """Most arrivals in any window [t, t + width) starting at an arrival (two pointers)."""
    ordered, best, j = sorted(times), 0, 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + width:
            j += 1
        best = max(best, j - i)
    return best


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def scenario_parser(
    doc: str,
    *,
    keys: int | None = 1000,
    keys_help: str | None = None,
    quick_help: str | None = None,
    suts: bool = False,
) -> argparse.ArgumentParser:
    """The options the commands scenarios share (the scenario adds its own): rooms (keys),
    simulator latency, in-flight bound, partitions, bootstrap, ``--quick`` and, with ``suts``,
    the extra systems under test (see ``systems_under_test``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--keys", type=int, default=keys, help=keys_help)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if suts:
        parser.add_argument(
            "--sut", action="append", default=[], help="extra SUT command (repeatable)"
        )
        parser.add_argument(
            "--sut-name",
            action="append",
            default=[],
            help="name of the n-th --sut in the report (default sutN), e.g. connect",
        )
    return parser


def systems_under_test(
    args: argparse.Namespace, *, aiohttp_baseline: bool = False
) -> list[tuple[str, str]]:
    """(name, command) of each SUT in run order: the baseline loop (httpx), with
    ``aiohttp_baseline`` the same loop on aiohttp (``baseline_aiohttp``), the gateway, each
    --sut."""
    extra = [
        (args.sut_name[i] if i < len(args.sut_name) else f"sut{i + 1}", command)
        for i, command in enumerate(args.sut)
    ]
    baselines = [("baseline", BASELINE_SUT)]
    if aiohttp_baseline:
        baselines.append(("baseline_aiohttp", BASELINE_AIOHTTP_SUT))
    return [*baselines, ("gateway", GATEWAY_SUT), *extra]
