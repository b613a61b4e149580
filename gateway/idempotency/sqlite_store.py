"""SQLite idempotency store: a file, for a single gateway instance (the default).

Retention: ``maintain`` (run periodically by the commands role) deletes outcomes past their
retention and in-flight claims whose lease lapsed more than a retention ago, then hands the
freed pages back to the file system (``auto_vacuum=INCREMENTAL``), so the file stays about as
large as one retention's worth of keys.

aiosqlite runs the connection on its own thread. Each claim is one ``BEGIN IMMEDIATE``
transaction; an asyncio lock keeps the tasks of this process from interleaving statements
on the one connection (a statement issued while another task's transaction is open would
join it), and SQLite's own locking keeps other processes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.idempotency.store import Claim, ClaimState

__all__ = ["Maintenance", "SqliteIdempotencyStore"]

# PRAGMA auto_vacuum values.
_INCREMENTAL = 2

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


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one ``maintain`` pass did, and the store's size after it."""

    purged: int  # rows deleted
    size_bytes: int  # the database file and its write-ahead log
    volume_size_bytes: int  # the file system the store lives on (0 for :memory:)
    volume_available_bytes: int


class SqliteIdempotencyStore:
    """Idempotency keys in one SQLite file."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        clock: Callable[[], float] = time.time,
        path: Path | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._lock = asyncio.Lock()
        self._path = path

    @classmethod
    async def open(
        cls, path: str | Path, clock: Callable[[], float] = time.time
    ) -> SqliteIdempotencyStore:
        """Open (and create) the store at ``path``."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        async with db.execute("PRAGMA auto_vacuum") as cur:
            row = await cur.fetchone()
        if row is None or row[0] != _INCREMENTAL:
            # Takes effect on a new file at once; an existing one (made before this setting)
            # is rebuilt once by VACUUM, which must run outside WAL mode's open transactions.
            await db.execute(f"PRAGMA auto_vacuum={_INCREMENTAL}")
            await db.execute("VACUUM")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(_SCHEMA)
        return cls(db, clock, None if str(path) == ":memory:" else Path(path))

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        async with self._lock:
            return await self._claim(key, fingerprint, owner, lease_s)

    async def _claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        now = self._clock()
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            async with self._db.execute(
                "SELECT fingerprint, state, owner, lease_until, expires_at, outcome"
                " FROM idempotency WHERE key = ?",
                (key,),
            ) as cur:
                row = await cur.fetchone()
            claim = self._decide(row, fingerprint, owner, now)
            if claim.state is ClaimState.CLAIMED:
                await self._db.execute(
                    "INSERT OR REPLACE INTO idempotency"
                    " (key, fingerprint, state, owner, lease_until, expires_at, outcome)"
                    " VALUES (?, ?, 'in_flight', ?, ?, NULL, NULL)",
                    (key, fingerprint, owner, now + lease_s),
                )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise
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
        async with self._lock:
            cur = await self._db.execute(
                "UPDATE idempotency SET lease_until = ?"
                " WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (self._clock() + lease_s, key, owner),
            )
        return cur.rowcount == 1

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        async with self._lock:
            cur = await self._db.execute(
                "UPDATE idempotency"
                " SET state = 'done', lease_until = NULL, expires_at = ?, outcome = ?"
                " WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (self._clock() + retention_s, json.dumps(outcome), key, owner),
            )
        return cur.rowcount == 1

    async def release(self, key: str, owner: str) -> None:
        async with self._lock:
            await self._db.execute(
                "DELETE FROM idempotency WHERE key = ? AND owner = ? AND state = 'in_flight'",
                (key, owner),
            )

    async def purge_expired(self, retention_s: float | None = None) -> int:
        """Delete outcomes past their retention and, given ``retention_s``, in-flight claims
        whose lease lapsed more than that long ago (their owner died and the command never
        came back); returns how many rows went."""
        now = self._clock()
        async with self._lock:
            cur = await self._db.execute(
                "DELETE FROM idempotency WHERE state = 'done' AND expires_at <= ?", (now,)
            )
            purged = cur.rowcount
            if retention_s is not None:
                cur = await self._db.execute(
                    "DELETE FROM idempotency WHERE state = 'in_flight' AND lease_until <= ?",
                    (now - retention_s,),
                )
                purged += cur.rowcount
        return purged

    async def maintain(self, retention_s: float, vacuum_pages: int = 10_000) -> Maintenance:
        """Purge (see ``purge_expired``), give up to ``vacuum_pages`` free pages back to the
        file system, and measure the store."""
        purged = await self.purge_expired(retention_s)
        async with self._lock:
            # executescript steps the pragma to its end (execute would free a single page).
            await self._db.executescript(f"PRAGMA incremental_vacuum({int(vacuum_pages)});")
            # Fold the write-ahead log into the file, so its pages can be reused too.
            async with self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                await cur.fetchall()
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
        await self._db.close()
