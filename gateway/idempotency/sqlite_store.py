"""SQLite idempotency store: a file, for a single gateway instance (the default).

Group commit: the store's operations (claim, renew, complete, release) that arrive while the
event loop runs one iteration are written together, in one ``BEGIN IMMEDIATE`` transaction,
and each caller is answered once that transaction has committed. A claim is therefore on disk
(in the write-ahead log) before its vendor call, as when every operation had a transaction of
its own, but 64 commands in flight cost one commit per batch. The batch runs on the event loop
itself: a batch of 64 takes well under a millisecond (no fsync at commit: WAL with
``synchronous=NORMAL``), less than a hop to a thread and back, which under load cost several
milliseconds per operation (aiosqlite, one hop per statement, was once a quarter of the
commands role's CPU). What could make a write slow is kept off the loop: checkpoints (the
write-ahead log folded into the file, with an fsync) run on the store's own thread, on a
connection of their own, every second; so do purges and vacuums, in short transactions. When
another writer holds the file (a maintenance step, another worker process), the batch waits a
few milliseconds and is tried again rather than blocking the loop. If a batch fails otherwise,
its operations are tried again one by one, so one bad operation fails only its own caller.

Retention: ``maintain`` (run periodically by the commands role) deletes outcomes past their
retention and in-flight claims whose lease lapsed more than a retention ago, then hands the
freed pages back to the file system (``auto_vacuum=INCREMENTAL``), so the file stays about as
large as one retention's worth of keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pydantic_core

from gateway.idempotency.store import Claim, ClaimState, IdempotencyStoreFullError

__all__ = ["Maintenance", "SqliteIdempotencyStore"]

log = logging.getLogger("gateway.idempotency")

T = TypeVar("T")
# One write: runs on the store's thread inside the batch's transaction; gets the batch's time.
Op = Callable[[sqlite3.Connection, float], Any]

# PRAGMA auto_vacuum values.
_INCREMENTAL = 2
# The event loop's connection waits this long for another writer, then tries again later.
_LOOP_BUSY_TIMEOUT_S = 0.005
_BUSY_RETRY_S = 0.002
_BUSY_GIVE_UP_S = 10.0  # then the batch's callers get "database is locked"
_MAINTENANCE_BUSY_TIMEOUT_S = 30.0  # the store's thread may wait
_CHECKPOINT_EVERY_S = 1.0
_PURGE_CHUNK = 500  # rows per purge transaction: the loop's writes wait at most that long
_VACUUM_CHUNK = 500  # pages per incremental vacuum step
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_FULL = 13  # SQLITE_FULL: the disk (or max_page_count) has no room

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,            -- in_flight | done
    owner TEXT,
    lease_until REAL,               -- in_flight: when the owner's claim lapses
    expires_at REAL,                -- done: when the outcome is forgotten
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS idempotency_expires ON idempotency (expires_at);
"""


def _connect(path: str, busy_timeout_s: float, autocheckpoint: bool) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
    )
    row = db.execute("PRAGMA auto_vacuum").fetchone()
    if row is None or row[0] != _INCREMENTAL:
        # Takes effect on a new file at once; an existing one (made before this setting) is
        # rebuilt once by VACUUM, which must run outside WAL mode's open transactions.
        db.execute(f"PRAGMA auto_vacuum={_INCREMENTAL}")
        db.execute("VACUUM")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if not autocheckpoint:  # the store's thread checkpoints (an fsync never on the loop)
        db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(_SCHEMA)
    return db


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) in _BUSY or "locked" in str(exc)
    )


def _is_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and (
        (code is not None and code & 0xFF == _FULL) or "disk is full" in str(exc)
    )


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one ``maintain`` pass did, and the store's size after it."""

    purged: int  # rows deleted
    size_bytes: int  # the database file and its write-ahead log
    volume_size_bytes: int  # the file system the store lives on (0 for :memory:)
    volume_available_bytes: int


class SqliteIdempotencyStore:
    """Idempotency keys in one SQLite file, written in group commits (module docstring)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        clock: Callable[[], float] = time.time,
        path: Path | None = None,
        maintenance_db: sqlite3.Connection | None = None,
    ) -> None:
        self._db = db  # the event loop's: every claim, renew, complete and release
        # The store's thread's (None for :memory:, which has one connection: the loop's).
        self._maintenance_db = maintenance_db
        self._executor = executor
        self._clock = clock
        self._path = path
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flushing = False
        self._busy_since: float | None = None
        self._idle = asyncio.Event()  # nothing queued or being written
        self._idle.set()
        self._closed = False
        self._checkpointer: asyncio.Task[None] | None = None
        if maintenance_db is not None:
            self._checkpointer = asyncio.get_running_loop().create_task(
                self._checkpoint_every(_CHECKPOINT_EVERY_S), name="idempotency-checkpoint"
            )

    @classmethod
    async def open(
        cls, path: str | Path, clock: Callable[[], float] = time.time
    ) -> SqliteIdempotencyStore:
        """Open (and create) the store at ``path``."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="idempotency-sqlite")
        loop = asyncio.get_running_loop()
        name = str(path)
        if name == ":memory:":
            db = await loop.run_in_executor(executor, _connect, name, _LOOP_BUSY_TIMEOUT_S, True)
            return cls(db, executor, clock)
        maintenance = await loop.run_in_executor(
            executor, _connect, name, _MAINTENANCE_BUSY_TIMEOUT_S, True
        )
        db = await loop.run_in_executor(executor, _connect, name, _LOOP_BUSY_TIMEOUT_S, False)
        return cls(db, executor, clock, Path(path), maintenance)

    # -- group commit ----------------------------------------------------------------------

    async def _write(self, op: Op) -> Any:
        """Run ``op`` in the next batch; its answer once the batch has committed."""
        if self._closed:
            raise RuntimeError("the idempotency store is closed")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._pending.append((op, answer))
        if not self._flushing:
            self._flushing = True
            self._idle.clear()
            loop.call_soon(self._flush)  # what else this loop iteration writes joins the batch
        return await answer

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        outcomes = self._run_batch([op for op, _ in batch]) if batch else []
        if outcomes is None:  # another writer holds the file: try again in a moment
            self._pending[:0] = batch
            now = loop.time()
            self._busy_since = self._busy_since or now
            if now - self._busy_since < _BUSY_GIVE_UP_S:
                loop.call_later(_BUSY_RETRY_S, self._flush)
                return
            locked = sqlite3.OperationalError("database is locked")
            outcomes = [(False, locked)] * len(batch)
            self._pending = []
        self._busy_since = None
        for (_, answer), (ok, value) in zip(batch, outcomes, strict=True):
            if answer.done():
                continue  # its caller gave up (cancelled); the write itself stands
            if ok:
                answer.set_result(value)
            else:
                answer.set_exception(value)
        # Nothing can have been queued meanwhile: the batch ran here, on the loop, and setting
        # an answer only schedules its caller.
        self._flushing = False
        self._idle.set()

    def _run_batch(self, ops: list[Op]) -> list[tuple[bool, Any]] | None:
        """Every op in one transaction; if that fails, one by one. None: the file is busy."""
        now = self._clock()
        try:
            return [(True, answer) for answer in self._transaction(ops, now)]
        except Exception as exc:
            if _is_busy(exc):
                return None
        outcomes: list[tuple[bool, Any]] = []
        for op in ops:
            try:
                outcomes.append((True, self._transaction([op], now)[0]))
            except Exception as exc:  # handed to that op's caller
                outcomes.append((False, self._full_error(exc) if _is_full(exc) else exc))
        return outcomes

    def _full_error(self, exc: BaseException) -> IdempotencyStoreFullError:
        """SQLITE_FULL, said plainly: nothing of the operation was written (its transaction
        rolled back), so a refused claim never reaches the vendor."""
        where = "in memory"
        if self._path is not None:
            where = str(self._path)
            with contextlib.suppress(OSError):
                fs = os.statvfs(self._path.parent)
                where += f", {fs.f_bavail * fs.f_frsize} bytes free on its file system"
        return IdempotencyStoreFullError(
            f"idempotency store full: {exc} ({where}); nothing was written"
        )

    def _transaction(self, ops: list[Op], now: float) -> list[Any]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            answers = [op(db, now) for op in ops]
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return answers

    async def _checkpoint_every(self, interval_s: float) -> None:
        """Fold the write-ahead log into the file, on the store's thread (it fsyncs)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._alone(lambda db: db.execute("PRAGMA wal_checkpoint(PASSIVE)"))
            except Exception as exc:  # the next one tries again; the log grows meanwhile
                log.warning("idempotency store checkpoint failed (%s: %s)", type(exc).__name__, exc)

    async def _alone(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the maintenance connection, on the store's thread (for :memory:,
        on the one connection, here)."""
        if self._maintenance_db is None:
            return work(self._db)
        db = self._maintenance_db
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(work, db)
        )

    # -- the store protocol ----------------------------------------------------------------

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        def op(db: sqlite3.Connection, now: float) -> Claim:
            row = db.execute(
                "SELECT fingerprint, state, owner, lease_until, expires_at, outcome"
                " FROM idempotency WHERE key = ?",
                (key,),
            ).fetchone()
            claim = self._decide(row, fingerprint, owner, now)
            if claim.state is ClaimState.CLAIMED:
                db.execute(
                    "INSERT OR REPLACE INTO idempotency"
                    " (key, fingerprint, state, owner, lease_until, expires_at, outcome)"
                    " VALUES (?, ?, 'in_flight', ?, ?, NULL, NULL)",
                    (key, fingerprint, owner, now + lease_s),
                )
            return claim

        claim: Claim = await self._write(op)
        return claim

    @staticmethod
    def _decide(row: Any, fingerprint: str, owner: str, now: float) -> Claim:
        if row is None:
            return Claim(ClaimState.CLAIMED, owner=owner)
        fp, state, holder, lease_until, expires_at, outcome = row
        if state == "done":
            if expires_at is not None and expires_at <= now:
                return Claim(ClaimState.CLAIMED, owner=owner)
            if fp != fingerprint:
                return Claim(ClaimState.CONFLICT, owner=holder)
            return Claim(ClaimState.DONE, outcome=json.loads(outcome), owner=holder)
        if fp != fingerprint:
            return Claim(ClaimState.CONFLICT, owner=holder)
        if holder == owner:
            # Our own earlier attempt (retried after an error): it may have called the vendor.
            return Claim(ClaimState.CLAIMED, owner=owner, reclaimed=True)
        if lease_until is not None and lease_until > now:
            return Claim(ClaimState.IN_FLIGHT, owner=holder)
        return Claim(ClaimState.CLAIMED, owner=owner, reclaimed=True)

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        def op(db: sqlite3.Connection, now: float) -> bool:
            cur = db.execute(
                "UPDATE idempotency SET lease_until = ?"
                " WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (now + lease_s, key, owner),
            )
            return cur.rowcount == 1

        renewed: bool = await self._write(op)
        return renewed

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        # Here, not in the batch: a bad outcome fails its caller only. pydantic-core's encoder
        # (bytes, stored as a BLOB; json.loads reads either).
        text = pydantic_core.to_json(outcome)

        def op(db: sqlite3.Connection, now: float) -> bool:
            cur = db.execute(
                "UPDATE idempotency"
                " SET state = 'done', lease_until = NULL, expires_at = ?, outcome = ?"
                " WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (now + retention_s, text, key, owner),
            )
            return cur.rowcount == 1

        completed: bool = await self._write(op)
        return completed

    async def release(self, key: str, owner: str) -> None:
        def op(db: sqlite3.Connection, now: float) -> None:
            db.execute(
                "DELETE FROM idempotency WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (key, owner),
            )

        await self._write(op)

    async def forget_everything(self) -> None:
        """Delete every key (tests: what a store that lost its data looks like)."""
        await self._write(lambda db, now: db.execute("DELETE FROM idempotency"))

    async def purge_expired(self, retention_s: float | None = None) -> int:
        """Delete outcomes past their retention and, given ``retention_s``, in-flight claims
        whose lease lapsed more than that long ago (their owner died and the command never
        came back); returns how many rows went. In short transactions, off the loop."""
        now = self._clock()
        done = (
            "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency"
            " WHERE state = 'done' AND expires_at <= ? LIMIT ?)",
            now,
        )
        lapsed = (
            "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency"
            " WHERE state = 'in_flight' AND lease_until <= ? LIMIT ?)",
            now - (retention_s or 0.0),
        )

        def purge(db: sqlite3.Connection) -> int:
            purged = 0
            for sql, before in [done] if retention_s is None else [done, lapsed]:
                while True:
                    count = db.execute(sql, (before, _PURGE_CHUNK)).rowcount
                    purged += count
                    if count < _PURGE_CHUNK:
                        break
            return purged

        return await self._alone(purge)

    async def maintain(self, retention_s: float, vacuum_pages: int = 10_000) -> Maintenance:
        """Purge (see ``purge_expired``), give up to ``vacuum_pages`` free pages back to the
        file system, and measure the store."""
        purged = await self.purge_expired(retention_s)

        def vacuum(db: sqlite3.Connection) -> None:
            # In steps: each holds the write lock, and the loop's writes wait for it.
            for _ in range(0, int(vacuum_pages), _VACUUM_CHUNK):
                free = db.execute("PRAGMA freelist_count").fetchone()[0]
                if not free:
                    break
                # executescript steps the pragma to its end (execute would free one page).
                db.executescript(f"PRAGMA incremental_vacuum({_VACUUM_CHUNK});")
            # Fold the write-ahead log into the file, so its pages can be reused too.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

        await self._alone(vacuum)
        return self._measure(purged)

    def _measure(self, purged: int) -> Maintenance:
        if self._path is None:
            return Maintenance(purged, 0, 0, 0)
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                size += self._path.with_name(self._path.name + suffix).stat().st_size
        fs = os.statvfs(self._path.parent)
        return Maintenance(purged, size, fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize)

    async def close(self) -> None:
        """Answer what is queued, then close the connections and the store's thread."""
        self._closed = True
        await self._idle.wait()
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        if self._maintenance_db is not None:
            await self._alone(lambda db: db.close())
        self._db.close()
        self._executor.shutdown(wait=False)
