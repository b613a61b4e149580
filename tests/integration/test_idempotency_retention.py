"""Retention of both stores: a lapsed in-flight claim stays until the retention has passed
(real Redis), and outcomes past their retention leave the SQLite file (and its pages)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

from redis.asyncio import Redis

from gateway.idempotency import ClaimState
from gateway.idempotency.redis_store import RedisIdempotencyStore
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore


async def test_redis_claim_whose_lease_lapsed_long_ago_is_reclaimed_not_new(
    redis_url: str,
) -> None:
    """A crash, then a redelivery long after the lease (here 20 leases; before, the marker
    went after 10): the claim is still there, so the next owner reconciles before calling."""
    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisIdempotencyStore(Redis.from_url(redis_url), prefix=prefix, retention_s=3.0)
    try:
        await store.claim("k", "fp", "crashed-owner", 0.05)
        await asyncio.sleep(1.0)
        again = await store.claim("k", "fp", "next-owner", 0.05)
        assert (again.state, again.reclaimed) == (ClaimState.CLAIMED, True)
        # Renewing keeps the marker for a retention past the lease as well.
        assert await store.renew("k", "next-owner", 0.05)
        await asyncio.sleep(1.0)
        later = await store.claim("k", "fp", "third-owner", 0.05)
        assert (later.state, later.reclaimed) == (ClaimState.CLAIMED, True)
        # ...and no longer: after lease + retention an abandoned claim is gone.
        await asyncio.sleep(3.3)
        fresh = await store.claim("k", "fp", "fourth-owner", 0.05)
        assert (fresh.state, fresh.reclaimed) == (ClaimState.CLAIMED, False)
    finally:
        await store.close()


async def test_sqlite_maintenance_purges_expired_rows_and_shrinks_the_file(
    tmp_path: Path,
) -> None:
    now = [1_000_000.0]
    path = tmp_path / "idem.sqlite3"
    store = await SqliteIdempotencyStore.open(path, clock=lambda: now[0])
    try:
        big = {"status": "succeeded", "data": "x" * 2000}
        for n in range(2000):
            await store.claim(f"old-{n}", "fp", "a", 30)
            await store.complete(f"old-{n}", "a", big, retention_s=60)
        await store.claim("lapsed", "fp", "dead", 30)  # an owner that died, never redelivered
        await store.claim("kept", "fp", "a", 30)
        await store.complete("kept", "a", {"status": "succeeded"}, retention_s=10_000)
        grown = (await store.maintain(retention_s=600)).size_bytes
        assert grown > 4_000_000

        now[0] += 61  # the 2,000 outcomes expire; the lapsed claim is not a retention old yet
        done = await store.maintain(retention_s=600)
        assert done.purged == 2000
        assert done.size_bytes < grown / 10
        assert done.volume_size_bytes >= done.volume_available_bytes > 0

        now[0] += 600  # now the dead owner's claim is a retention past its lease
        assert (await store.maintain(retention_s=600)).purged == 1
        assert (await store.claim("kept", "fp", "b", 30)).state is ClaimState.DONE
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM idempotency")]
    assert keys == ["kept"]


async def test_commands_role_maintenance_purges_periodically_and_reports_the_size(
    tmp_path: Path,
) -> None:
    """The loop the commands role runs for the SQLite store: a purge at start and every
    interval, and the store's size and its volume's free space as gauges."""
    from gateway.app.commands_role import maintain_sqlite_store
    from gateway.telemetry.metrics import (
        IDEMPOTENCY_STORE_BYTES,
        IDEMPOTENCY_VOLUME_AVAILABLE_BYTES,
        IDEMPOTENCY_VOLUME_BYTES,
    )

    now = [1_000_000.0]
    store = await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3", clock=lambda: now[0])
    stop = asyncio.Event()
    loop = asyncio.create_task(maintain_sqlite_store(store, 600, 0.1, stop))
    try:
        for n in range(50):
            await store.claim(f"k{n}", "fp", "a", 30)
            await store.complete(f"k{n}", "a", {"n": n}, retention_s=60)
        now[0] += 61
        await asyncio.sleep(0.5)
        with sqlite3.connect(tmp_path / "idem.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM idempotency").fetchone() == (0,)
        assert IDEMPOTENCY_STORE_BYTES._value.get() > 0
        assert (
            IDEMPOTENCY_VOLUME_BYTES._value.get()
            >= IDEMPOTENCY_VOLUME_AVAILABLE_BYTES._value.get()
            > 0
        )
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)
        await store.close()
