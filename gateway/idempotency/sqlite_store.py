"""SQLite idempotency store: a file, for a single gateway instance (the default).

Group commit: the store's operations (claim, renew, complete, release) that arrive while the
event loop runs one iteration are written together, in one ``BEGIN IMMEDIATE`` transaction on
the store's own thread, and each caller is answered once that transaction has committed. A
claim is therefore on disk (in the write-ahead log) before its vendor call, as when every
operation had a transaction of its own, but 64 commands in flight cost one thread hop and one
commit per batch instead of several hops each (aiosqlite's model, once a quarter of the
commands role's CPU). If a batch fails, its operations are tried again one by one, so one bad
operation fails only its own caller. SQLite's locking keeps other processes out.

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
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gateway.idempotency.store import Claim, ClaimState

__all__ = ["Maintenance", "SqliteIdempotencyStore"]

T = TypeVar("T")
# One write: runs on the store's thread inside the batch's transaction; gets the batch's time.
Op = Callable[[sqlite3.Connection, float], Any]

# PRAGMA auto_vacuum values.
_INCREMENTAL = 2
_BUSY_TIMEOUT_S = 30.0  # another process holding the write lock

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


def _connect(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        path, isolation_level=None, timeout=_BUSY_TIMEOUT_S, check_same_thread=False
    )
    row = db.execute("PRAGMA auto_vacuum").fetchone()
    if row is None or row[0] != _INCREMENTAL:
        # Takes effect on a new file at once; an existing one (made before this setting) is
        # rebuilt once by VACUUM, which must run outside WAL mode's open transactions.
        db.execute(f"PRAGMA auto_vacuum={_INCREMENTAL}")
        db.execute("VACUUM")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one ``maintain`` pass did, and the store's size after it."""

    purged: int  # rows deleted
    size_bytes: int  # the database file and its write-ahead log
    volume_size_bytes: int  # the file system the store lives on (0 for :memory:)
    volume_available_bytes: int


class SqliteIdempotencyStore:
    """Idempotency keys in one SQLite file, written in group commits on the store's thread."""

    def __init__(
        self,
        db: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        clock: Callable[[], float] = time.time,
        path: Path | None = None,
    ) -> None:
        self._db = db
        self._executor = executor  # one thread: every use of the connection, in order
        self._clock = clock
        self._path = path
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flushing = False
        self._idle = asyncio.Event()  # nothing queued or being written
        self._idle.set()
        self._closed = False

    @classmethod
    async def open(
        cls, path: str | Path, clock: Callable[[], float] = time.time
    ) -> SqliteIdempotencyStore:
        """Open (and create) the store at ``path``."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="idempotency-sqlite")
        loop = asyncio.get_running_loop()
        db = await loop.run_in_executor(executor, _connect, str(path))
        return cls(db, executor, clock, None if str(path) == ":memory:" else Path(path))

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
        if not batch:
            self._flushing = False
            self._idle.set()
            return
        ran = asyncio.get_running_loop().run_in_executor(
            self._executor, self._run_batch, [op for op, _ in batch]
        )
        ran.add_done_callback(functools.partial(self._settle, batch))

    def _settle(
        self,
        batch: list[tuple[Op, asyncio.Future[Any]]],
        ran: asyncio.Future[list[tuple[bool, Any]]],
    ) -> None:
        error = None if ran.cancelled() else ran.exception()
        outcomes = ran.result() if error is None and not ran.cancelled() else None
        for i, (_, answer) in enumerate(batch):
            if answer.done():
                continue  # its caller gave up (cancelled); the write itself stands
            if outcomes is None:
                answer.set_exception(error or RuntimeError("the idempotency batch was cancelled"))
            elif outcomes[i][0]:
                answer.set_result(outcomes[i][1])
            else:
                answer.set_exception(outcomes[i][1])
        self._flush()  # what queued up meanwhile

    def _run_batch(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        """On the store's thread: every op in one transaction; if that fails, one by one."""
        now = self._clock()
        with contextlib.suppress(Exception):  # else each op alone below, failing alone
            return [(True, answer) for answer in self._transaction(ops, now)]
        outcomes: list[tuple[bool, Any]] = []
        for op in ops:
            try:
                outcomes.append((True, self._transaction([op], now)[0]))
            except Exception as exc:  # handed to that op's caller
                outcomes.append((False, exc))
        return outcomes

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

    async def _alone(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the store's thread between batches (maintenance)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

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
        text = json.dumps(outcome)  # here, not in the batch: a bad outcome fails its caller only

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
        came back); returns how many rows went."""

        def op(db: sqlite3.Connection, now: float) -> int:
            cur = db.execute(
                "DELETE FROM idempotency WHERE state = 'done' AND expires_at <= ?", (now,)
            )
            purged = cur.rowcount
            if retention_s is not None:
                cur = db.execute(
                    "DELETE FROM idempotency WHERE state = 'in_flight' AND lease_until <= ?",
                    (now - retention_s,),
                )
                purged += cur.rowcount
            return purged

        purged: int = await self._write(op)
        return purged

    async def maintain(self, retention_s: float, vacuum_pages: int = 10_000) -> Maintenance:
        """Purge (see ``purge_expired``), give up to ``vacuum_pages`` free pages back to the
        file system, and measure the store."""
        purged = await self.purge_expired(retention_s)

        def vacuum() -> None:
            # executescript steps the pragma to its end (execute would free a single page).
            self._db.executescript(f"PRAGMA incremental_vacuum({int(vacuum_pages)});")
            # Fold the write-ahead log into the file, so its pages can be reused too.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

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
        """Answer what is queued, then close the connection and the store's thread."""
        self._closed = True
        await self._idle.wait()
        await self._alone(self._db.close)
        self._executor.shutdown(wait=False)
