"""Cases 7-8: the idempotency store runs out of room under RoomCreate load, then gets it back.

* ``disk-full``: one commands replica (SQLite is the single-instance store) with its SQLite
  file on a 2 MB tmpfs of the case's own, partly taken by a filler file; after a lead-in the
  filler grows to leave 256 KB, and the load fills that. After a while the filler is deleted
  and the tmpfs remounted at 64 MB (2 MB would not hold the whole load's keys: the store would
  fill again at once).
* ``redis-full``: two replicas on a Redis of the case's own (``maxmemory`` 2 MB,
  ``noeviction``) for idempotency and rate limit; the case fills it with filler keys until
  writes are refused with OOM, keeps it full, then deletes the filler and raises
  ``maxmemory`` to 64 MB (2 MB would not hold the load's keys).

Required: a claim that cannot be stored stops its command before the vendor (the record is
tried again, ``gateway.retry.processing_failures``, and succeeds once there is room); no
vendor call without a stored claim; every command one result; no double mutation.

The witness of "no vendor call without a stored claim": the store itself records, atomically
with each claim it stores, the claim's owner (which ends in the command id) and the time of
the write, on the machine's wall clock:

* SQLite: a trigger the case adds to the store's file before the replica starts, ``AFTER
  INSERT ON idempotency`` (a claim is the store's only INSERT), writes (owner, time) into a
  table of its own in the claim's own transaction: a claim refused for want of space leaves
  no witness row, a stored one always does.
* Redis: ``MONITOR`` on the case's Redis lists every command a claim script executes, with
  the server's time; a claim's ``HSET ... state in_flight owner <owner>`` appears only if it
  was executed (a write refused with OOM is not executed, and not listed).

The simulator stamps each request's arrival with the same wall clock (``ts``). A claim is
stored before its vendor call is sent, which arrives after that: so every executed
``/room/create`` for room R must have a stored claim of R's command with an earlier time.
A create without one is a vendor call without a claim, whichever phase it fell in.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from chaos.audit import Audit
from chaos.procs import free_port, stop_process
from chaos.rig import CommandsRig, RigConfig
from chaos.simctl import executed
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore

__all__ = ["Timeline", "claims_before_calls", "disk_full", "redis_full"]

FULL_MARK = "idempotency store full"
# The consumer's line for a record whose processing failed (gateway/commands/consumer.py).
_FAILED = re.compile(r"processing (\S+?)\[(\d+)\]@(\d+) failed \((\w+)")
_UNSTORED = "publishing it unstored"


@dataclass(frozen=True)
class FullPlan:
    rate: float
    lead_s: float  # load before the store is filled
    fill_within_s: float  # disk-full: the load's time to fill the disk, then the filler does
    full_s: float  # how long the store stays full, from the first refusal
    tail_s: float  # load after space is back

    @property
    def load_s(self) -> float:
        return self.lead_s + self.fill_within_s / 2 + self.full_s + self.tail_s


@dataclass
class Timeline:
    """Moments of the case, seconds after the load started."""

    t0_mono: float = 0.0
    t0_wall: float = 0.0
    full_at: float | None = None
    back_at: float | None = None

    def at(self) -> float:
        return round(time.monotonic() - self.t0_mono, 1)

    def wall(self, offset: float | None) -> float | None:
        return None if offset is None else self.t0_wall + offset


# -- what the replicas logged ---------------------------------------------------------------


def _log_text(rig: CommandsRig) -> str:
    return "".join(r.log.read_text(errors="replace") for r in rig.replicas if r.log.exists())


def _refusals(text: str) -> dict[str, Any]:
    """Processing failures by error class, and the records a full store refused."""
    tries: Counter[str] = Counter()
    refused: set[tuple[str, str]] = set()
    for m in _FAILED.finditer(text):
        tries[m.group(4)] += 1
        if m.group(4) == "IdempotencyStoreFullError":
            refused.add((m.group(2), m.group(3)))
    return {
        "failed_tries_by_class": dict(tries),
        "records_refused_store_full": len(refused),
        "tries_refused_store_full": tries["IdempotencyStoreFullError"],
        "outcomes_published_unstored": text.count(_UNSTORED),
    }


def _log_offsets(rig: CommandsRig) -> dict[str, int]:
    return {r.name: r.log.stat().st_size if r.log.exists() else 0 for r in rig.replicas}


def _line_time(line: bytes) -> float | None:
    """The wall time of a replica's JSON log line (``time``, local, milliseconds)."""
    try:
        stamp = json.loads(line)["time"]
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except (ValueError, KeyError, TypeError):
        return None


async def _first_log_mark(
    rig: CommandsRig, mark: str, offsets: dict[str, int], within: float
) -> float | None:
    """The wall time of the first replica log line after ``offsets`` that has ``mark``, waiting
    up to ``within`` seconds for one; None if none came."""
    deadline = time.monotonic() + within
    needle = mark.encode()
    while True:
        found: list[float] = []
        for r in rig.replicas:
            with contextlib.suppress(OSError), r.log.open("rb") as f:
                f.seek(offsets.get(r.name, 0))
                for line in f:
                    if needle in line:
                        found.append(_line_time(line) or time.time())
                        break
        if found:
            return min(found)
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _under_load(
    rig: CommandsRig, plan: FullPlan, timeline: Timeline
) -> AsyncIterator[dict[str, int]]:
    """The plan's load on the rig, the timeline's clock starting with it. The body runs after
    the lead-in and is given the replicas' log offsets from before the load; on leaving, the
    load is waited for (cancelled instead if the body failed)."""
    count = int(plan.load_s * plan.rate)
    offsets = _log_offsets(rig)
    timeline.t0_mono, timeline.t0_wall = time.monotonic(), time.time()
    load = asyncio.create_task(rig.send_commands(count, plan.rate))
    try:
        await asyncio.sleep(plan.lead_s)
        yield offsets
        await load
    finally:
        if not load.done():
            load.cancel()


async def _results_and_creates(
    rig: CommandsRig, audit: Audit, timeline: Timeline
) -> tuple[float, list[dict[str, Any]]]:
    """Waits for the results (the budget + 60 s) and audits them; returns when the last came
    (seconds on the timeline) and the simulator's log of ``/room/create`` requests."""
    assert rig.sim is not None
    ended = await rig.wait_results(within=rig.config.budget_s + 60)
    all_done = round(ended - timeline.t0_wall, 1)
    await rig.audit(audit, ended)
    return all_done, await rig.sim.requests("/room/create")


def _results_note(all_done: float, check: dict[str, Any], logged: dict[str, Any]) -> str:
    """The end of both cases' note: the results, the witness check, unstored outcomes."""
    return (
        f"all results by +{all_done} s; "
        f"{check['vendor_creates_executed']} creates at the vendor, "
        f"{check['vendor_creates_without_prior_claim']} without a prior stored claim "
        f"({check['full_window_vendor_creates']} of them while full, "
        f"{check['full_window_claims_stored']} claims stored while full); "
        f"{logged['outcomes_published_unstored']} outcomes published unstored"
    )


# -- the witness check ----------------------------------------------------------------------


def rooms_of(rig: CommandsRig) -> dict[str, str]:
    """command id -> room_id, for every valid command the load sent."""
    assert rig.producer is not None
    return {
        sent.ident: rig.room(int(sent.ident.split("-")[1]))
        for sent in rig.producer.sent
        if sent.kind == "valid"
    }


def claims_before_calls(
    room_of: dict[str, str],
    creates: list[dict[str, Any]],
    claims: list[tuple[float, str]],
    timeline: Timeline,
) -> dict[str, Any]:
    """Every executed /room/create (simulator log entries) against the stored claims of its
    command ((wall time, owner) pairs; the owner ends in ``/<command id>``): a create with no
    claim of its command stored before it is a vendor call without a claim (module
    docstring). Besides, the counts of the full window."""
    command_of = {room: ident for ident, room in room_of.items()}
    first_claim: dict[str, float] = {}
    for t, owner in claims:
        ident = owner.rsplit("/", 1)[-1]
        if ident in room_of and t < first_claim.get(ident, float("inf")):
            first_claim[ident] = t
    full_from, full_to = timeline.wall(timeline.full_at), timeline.wall(timeline.back_at)

    def in_window(t: float) -> bool:
        return full_from is not None and full_from <= t and (full_to is None or t < full_to)

    unclaimed: list[dict[str, Any]] = []
    done = [e for e in creates if executed(e)]
    for e in done:
        room = e["params"].get("room_id")
        cmd = command_of.get(room)
        claimed_at = first_claim.get(cmd) if cmd is not None else None
        if claimed_at is None or claimed_at >= e["ts"]:
            unclaimed.append(
                {
                    "room_id": room,
                    "command_id": cmd,
                    "vendor_at_s": round(e["ts"] - timeline.t0_wall, 3),
                    "claim_at_s": None
                    if claimed_at is None
                    else round(claimed_at - timeline.t0_wall, 3),
                }
            )
    return {
        "claims_stored": len(claims),
        "commands_with_a_stored_claim": len(first_claim),
        "vendor_creates_executed": len(done),
        "vendor_creates_without_prior_claim": len(unclaimed),
        "unclaimed_examples": unclaimed[:10],
        "full_window_claims_stored": sum(1 for t, _ in claims if in_window(t)),
        "full_window_vendor_creates": sum(1 for e in done if in_window(e["ts"])),
    }


def _verdict(audit: Audit, rig: CommandsRig, check: dict[str, Any], logged: dict[str, Any]) -> None:
    """The case's own checks, on top of the commands audit."""
    assert rig.follower is not None
    audit.details.update(witness=check, logged=logged)
    dead = rig.follower.records.get(rig.topics.dlq, [])
    if dead:
        audit.problems.append(f"{len(dead)} dead letters (the commands should have waited)")
    if check["vendor_creates_without_prior_claim"]:
        audit.problems.append(
            f"{check['vendor_creates_without_prior_claim']} /room/create reached the vendor "
            f"without a stored claim of their command before them, e.g. "
            f"{check['unclaimed_examples'][:2]}"
        )
    if not logged["records_refused_store_full"]:
        audit.problems.append(f"no claim was refused with '{FULL_MARK}': the store never filled")


# -- disk-full ------------------------------------------------------------------------------

TMPFS_SIZE = "2m"
TMPFS_BACK = "64m"
# Left free by the filler: during the lead-in (the write-ahead log alone grows to about a
# megabyte between checkpoints at 30-40 commands/s), then at its end, for the load to fill.
LEAD_HEADROOM = 1536 * 1024
FULL_HEADROOM = 256 * 1024


def _mount(path: Path) -> str | None:
    """Mount a 2 MB tmpfs at ``path``; why not, or None."""
    if shutil.which("mount") is None:
        return "no mount(8) here: this case needs a small file system of its own to fill"
    done = subprocess.run(  # noqa: S603 - fixed argv
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", str(path)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return (
            f"mounting a {TMPFS_SIZE} tmpfs is not permitted here ({done.stderr.strip()[:200]}): "
            "this case fills a file system of its own (it needs root, or CAP_SYS_ADMIN) and "
            "never fills a shared one"
        )
    return None


def _umount(path: Path) -> None:
    for argv in (["umount", str(path)], ["umount", "-l", str(path)]):
        if subprocess.run(argv, capture_output=True, check=False).returncode == 0:  # noqa: S603
            break
    with contextlib.suppress(OSError):
        path.rmdir()


def _space_back(path: Path, filler: Path) -> None:
    """The filler deleted and the file system grown: 2 MB would not hold this load's keys."""
    filler.unlink()
    subprocess.run(  # noqa: S603 - fixed argv
        ["mount", "-o", f"remount,size={TMPFS_BACK}", str(path)],  # noqa: S607
        capture_output=True,
        check=True,
    )


def _free(path: Path) -> int:
    fs = os.statvfs(path)
    return fs.f_bavail * fs.f_frsize


def _write_filler(filler: Path, size: int | None) -> int:
    """Append ``size`` bytes (None: until the disk is full) to the filler; bytes written."""
    chunk = b"\0" * 65536
    written = 0
    with filler.open("ab", buffering=0) as f:
        while size is None or written < size:
            piece = chunk if size is None else chunk[: min(len(chunk), size - written)]
            try:
                written += f.write(piece) or 0
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    break
                raise
    return written


async def _prepare_sqlite(db: Path) -> None:
    """The store's file as the gateway makes it, plus the claim witness (module docstring)."""
    store = await SqliteIdempotencyStore.open(db)
    await store.close()
    conn = sqlite3.connect(db)
    try:
        conn.executescript(
            """
            CREATE TABLE chaos_claims (owner TEXT NOT NULL, t REAL NOT NULL);
            CREATE TRIGGER chaos_claim_witness AFTER INSERT ON idempotency
            BEGIN
                INSERT INTO chaos_claims (owner, t)
                VALUES (new.owner, (julianday('now') - 2440587.5) * 86400.0);
            END;
            """
        )
    finally:
        conn.close()


def _store_bytes(mountpoint: Path) -> int:
    return sum(p.stat().st_size for p in mountpoint.glob("idempotency.sqlite3*"))


def _sqlite_claims(db: Path) -> list[tuple[float, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT owner, t FROM chaos_claims").fetchall()
        return [(float(t), str(owner)) for owner, t in rows]
    finally:
        conn.close()


async def disk_full(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """The SQLite store's disk fills under load; later the filler is deleted."""
    plan = FullPlan(30, 6, 20, 15, 8) if reduced else FullPlan(40, 10, 25, 40, 10)
    audit = Audit(
        "7 disk-full",
        f"SQLite store on a {TMPFS_SIZE} tmpfs, full for {plan.full_s:.0f} s under load",
    )
    mountpoint = Path(tempfile.mkdtemp(prefix="chaos-disk-full-"))
    refusal = await asyncio.to_thread(_mount, mountpoint)
    if refusal:
        with contextlib.suppress(OSError):
            os.rmdir(mountpoint)
        audit.refused = refusal
        return audit
    timeline = Timeline()
    try:
        db = mountpoint / "idempotency.sqlite3"
        await _prepare_sqlite(db)
        filler = mountpoint / "filler"
        prefilled = _write_filler(filler, max(0, _free(mountpoint) - LEAD_HEADROOM))
        # Commands wait out the full disk in processing retries (0.4 s doubling to 10 s, ten
        # tries: about 52 s), then succeed: the budget covers the full time, a 10 s retry
        # pause and the backlog.
        config = RigConfig(
            "diskfull",
            budget_s=plan.full_s + 45.0,
            replicas=1,  # SQLite: one instance (settings: "sqlite (one instance)")
            extra_env={
                "GATEWAY_IDEMPOTENCY__BACKEND": "sqlite",
                "GATEWAY_IDEMPOTENCY__SQLITE_PATH": str(db),
            },
        )
        rig = CommandsRig(config, logs)
        topped_up = 0
        async with rig:
            async with _under_load(rig, plan, timeline):
                # The filler grows to leave a little; the load fills that. If it has not within
                # its time, the filler takes the rest (noted). Full: the first refused claim.
                offsets = _log_offsets(rig)
                grown = await asyncio.to_thread(
                    _write_filler, filler, max(0, _free(mountpoint) - FULL_HEADROOM)
                )
                first = await _first_log_mark(rig, FULL_MARK, offsets, plan.fill_within_s)
                if first is None:
                    topped_up = await asyncio.to_thread(_write_filler, filler, None)
                    first = await _first_log_mark(rig, FULL_MARK, offsets, 20)
                    if first is None:
                        raise RuntimeError("the store did not report a full disk")
                timeline.full_at = round(first - timeline.t0_wall, 1)
                free_when_full = _free(mountpoint)
                await asyncio.sleep(max(0.0, timeline.full_at + plan.full_s - timeline.at()))
                await asyncio.to_thread(_space_back, mountpoint, filler)
                timeline.back_at = timeline.at()
            all_done, creates = await _results_and_creates(rig, audit, timeline)
        claims = _sqlite_claims(db)
        store_bytes = await asyncio.to_thread(_store_bytes, mountpoint)
    finally:
        await asyncio.to_thread(_umount, mountpoint)
    audit.notes += rig.exit_notes()
    logged = _refusals(_log_text(rig))
    check = claims_before_calls(rooms_of(rig), creates, claims, timeline)
    _verdict(audit, rig, check, logged)
    audit.details.update(
        timeline={
            "full_at_s": timeline.full_at,
            "space_back_at_s": timeline.back_at,
            "all_results_at_s": all_done,
        },
        prefilled_bytes=prefilled,
        filler_grown_bytes=grown,
        topped_up_bytes=topped_up,
        free_bytes_when_full=free_when_full,
        store_bytes_at_end=store_bytes,
    )
    how = "by the load" if not topped_up else f"by the filler ({topped_up:,} bytes more)"
    audit.notes.append(
        f"tmpfs {TMPFS_SIZE}, filler {prefilled / 1e6:.2f} MB, load {plan.rate:.0f}/s; filler "
        f"grown by {grown / 1e6:.2f} MB at +{plan.lead_s:.0f} s to leave "
        f"{FULL_HEADROOM // 1024} KB; disk full ({how}) at +{timeline.full_at} s; "
        f"{logged['records_refused_store_full']} records refused "
        f"({logged['tries_refused_store_full']} claim tries, '{FULL_MARK}'); filler "
        f"deleted and tmpfs remounted at {TMPFS_BACK} at +{timeline.back_at} s; "
        + _results_note(all_done, check, logged)
    )
    return audit


# -- redis-full -----------------------------------------------------------------------------

REDIS_MAXMEMORY = "2mb"
REDIS_MAXMEMORY_BACK = "64mb"


class _Monitor:
    """``MONITOR`` on the case's Redis, in a thread: the claims its scripts stored."""

    _CLAIM = re.compile(
        rb'^\+(\d+\.\d+) \[\d+ lua\] "HSET" .*?"state" "in_flight" "owner" "([^"]*)"'
    )

    def __init__(self, port: int) -> None:
        self.claims: list[tuple[float, str]] = []
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self._sock.sendall(b"MONITOR\r\n")
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._read, name="chaos-monitor", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError), self._sock.makefile("rb") as lines:
            for line in lines:
                if b' lua] "HSET"' in line:
                    m = self._CLAIM.match(line)
                    if m is not None:
                        self.claims.append((float(m.group(1)), m.group(2).decode()))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)


@contextlib.contextmanager
def _own_redis(logs: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    workdir = (logs / "redis").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir)]
    argv += ["--maxmemory", REDIS_MAXMEMORY, "--maxmemory-policy", "noeviction"]
    argv += ["--save", "", "--appendonly", "no", "--logfile", str(workdir / "redis.log")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(200):
            try:
                with redis.Redis.from_url(url, socket_timeout=1) as client:
                    client.ping()
                break
            except redis.RedisError:
                if proc.poll() is not None:
                    msg = f"the case's redis-server exited ({proc.returncode})"
                    raise RuntimeError(msg) from None
                time.sleep(0.05)
        yield url, port
    finally:
        stop_process(proc)


def _fill_redis(client: redis.Redis, start: int) -> int:
    """Filler keys until Redis refuses a write: large ones, then small ones to the brim."""
    i = start
    for size in (8192, 64):
        while True:
            try:
                client.set(f"chaos:filler:{i}", b"x" * size)
            except redis.exceptions.OutOfMemoryError:
                break
            i += 1
    return i


class _KeepFull:
    """Takes back, every 50 ms, whatever Redis frees (expiring rate-limit keys): the store
    stays full rather than letting a claim in now and then."""

    def __init__(self, client: redis.Redis, start: int) -> None:
        self.next = start
        self._stop = threading.Event()
        self._client = client
        self._thread = threading.Thread(target=self._run, name="chaos-keep-full", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            with contextlib.suppress(redis.RedisError):
                self.next = _fill_redis(self._client, self.next)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


async def redis_full(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """The Redis of idempotency and rate limit fills under load; later the filler goes."""
    plan = FullPlan(30, 6, 0, 15, 8) if reduced else FullPlan(40, 10, 0, 40, 10)
    audit = Audit(
        "8 redis-full",
        f"Redis at maxmemory {REDIS_MAXMEMORY} (noeviction) for {plan.full_s:.0f} s under load",
    )
    try:
        own = _own_redis(logs)
        url, port = own.__enter__()
    except FileNotFoundError:
        audit.refused = "no redis-server binary here (scripts/redis.sh installs one)"
        return audit
    timeline = Timeline()
    monitor: _Monitor | None = None
    keeper: _KeepFull | None = None
    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        monitor = _Monitor(port)
        config = RigConfig(
            "redisfull", budget_s=plan.full_s + 45.0, extra_env={"GATEWAY_REDIS__URL": url}
        )
        rig = CommandsRig(config, logs)
        async with rig:
            async with _under_load(rig, plan, timeline) as offsets:
                try:
                    before = client.info("memory")
                    filled = await asyncio.to_thread(_fill_redis, client, 0)
                    timeline.full_at = timeline.at()
                    full_memory = client.info("memory")
                    keeper = _KeepFull(client, filled)
                    first = await _first_log_mark(rig, FULL_MARK, offsets, plan.full_s)
                    first_refused = None if first is None else round(first - timeline.t0_wall, 1)
                    await asyncio.sleep(max(0.0, timeline.full_at + plan.full_s - timeline.at()))
                    keeper.stop()
                    filler_keys = keeper.next
                    await asyncio.to_thread(_delete_filler, client)
                    # 2 MB would not hold this load's keys (claims and outcomes stay for the
                    # retention): without more room the store would be full again at once.
                    client.config_set("maxmemory", REDIS_MAXMEMORY_BACK)
                    timeline.back_at = timeline.at()
                finally:
                    if keeper is not None:
                        keeper.stop()
            all_done, creates = await _results_and_creates(rig, audit, timeline)
        end_memory = client.info("memory")
    finally:
        if monitor is not None:
            monitor.close()
        client.close()
        own.__exit__(None, None, None)
    audit.notes += rig.exit_notes()
    logged = _refusals(_log_text(rig))
    check = claims_before_calls(rooms_of(rig), creates, monitor.claims, timeline)
    _verdict(audit, rig, check, logged)
    audit.details.update(
        timeline={
            "full_at_s": timeline.full_at,
            "first_claim_refused_at_s": first_refused,
            "space_back_at_s": timeline.back_at,
            "all_results_at_s": all_done,
        },
        filler_keys=filler_keys,
        used_memory_before_fill=before["used_memory"],
        used_memory_full=full_memory["used_memory"],
        used_memory_end=end_memory["used_memory"],
    )
    audit.notes.append(
        f"own redis-server, maxmemory {REDIS_MAXMEMORY}, noeviction; load {plan.rate:.0f}/s; "
        f"filled ({filler_keys:,} filler keys) until OOM at +{timeline.full_at} s, first "
        f"claim refused at +{first_refused} s; "
        f"{logged['records_refused_store_full']} records refused "
        f"({logged['tries_refused_store_full']} claim tries, '{FULL_MARK}'); filler deleted "
        f"and maxmemory {REDIS_MAXMEMORY_BACK} at +{timeline.back_at} s; "
        + _results_note(all_done, check, logged)
    )
    return audit


def _delete_filler(client: redis.Redis) -> None:
    batch: list[Any] = []
    for key in client.scan_iter(match="chaos:filler:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
