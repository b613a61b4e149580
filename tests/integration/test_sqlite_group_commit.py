"""The SQLite store's group commit: one transaction per batch, each caller answered after it,
a failing write failing only its own caller."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from gateway.idempotency import ClaimState
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore


async def test_concurrent_claims_share_transactions(tmp_path: Path) -> None:
    """64 claims at once are written in a few batches, each answered as claimed."""
    store = await SqliteIdempotencyStore.open(tmp_path / "i.db")
    batches: list[int] = []
    run_batch = store._run_batch

    def counted(ops: list[Any]) -> list[tuple[bool, Any]]:
        batches.append(len(ops))
        return run_batch(ops)

    store._run_batch = counted  # type: ignore[method-assign]
    claims = await asyncio.gather(*(store.claim(f"k{i}", "fp", "o", 30) for i in range(64)))
    assert {c.state for c in claims} == {ClaimState.CLAIMED}
    assert sum(batches) == 64
    assert len(batches) <= 4
    await store.close()


async def test_one_key_twice_in_one_batch(tmp_path: Path) -> None:
    """Two owners claiming one key in the same batch: one owns it, the other sees it taken."""
    store = await SqliteIdempotencyStore.open(tmp_path / "i.db")
    first, second = await asyncio.gather(
        store.claim("k", "fp", "a", 30), store.claim("k", "fp", "b", 30)
    )
    assert first.state is ClaimState.CLAIMED
    assert second.state is ClaimState.IN_FLIGHT
    assert second.owner == "a"
    await store.close()


async def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    """A write that raises fails its own caller; the rest of its batch is committed."""
    store = await SqliteIdempotencyStore.open(tmp_path / "i.db")

    def broken(db: sqlite3.Connection, now: float) -> None:
        db.execute("INSERT INTO no_such_table VALUES (1)")

    results = await asyncio.gather(
        store.claim("k1", "fp", "a", 30),
        store._write(broken),
        store.claim("k2", "fp", "a", 30),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlite3.OperationalError)
    assert results[0].state is ClaimState.CLAIMED  # type: ignore[union-attr]
    assert results[2].state is ClaimState.CLAIMED  # type: ignore[union-attr]
    again = await store.claim("k1", "fp", "b", 30)
    assert again.state is ClaimState.IN_FLIGHT  # committed: another owner sees it
    await store.close()


async def test_a_claim_is_on_disk_when_answered(tmp_path: Path) -> None:
    """Once claim() returns, another connection to the file sees the claim."""
    path = tmp_path / "i.db"
    store = await SqliteIdempotencyStore.open(path)
    await store.claim("k", "fp", "a", 30)
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT state, owner FROM idempotency WHERE key = 'k'").fetchone()
    assert row == ("in_flight", "a")
    await store.close()
