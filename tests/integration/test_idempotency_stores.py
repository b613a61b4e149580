"""Both idempotency stores keep the same contract (SQLite file and real Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.idempotency import ClaimState, IdempotencyStore
from gateway.idempotency.redis_store import RedisIdempotencyStore
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore


@pytest.fixture(params=["sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[IdempotencyStore]:
    """Each backend, fresh."""
    if request.param == "sqlite":
        sqlite = await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3")
        yield sqlite
        await sqlite.close()
    else:
        redis_store = RedisIdempotencyStore(
            Redis.from_url(redis_url), prefix=f"test:{uuid.uuid4().hex}:"
        )
        yield redis_store
        await redis_store.close()


async def test_claim_complete_replay(store: IdempotencyStore) -> None:
    """First claim owns the key; after complete, the same payload replays the outcome."""
    first = await store.claim("k", "fp", "a", 5)
    assert (first.state, first.reclaimed) == (ClaimState.CLAIMED, False)
    assert await store.complete("k", "a", {"status": "succeeded"}, 60)
    again = await store.claim("k", "fp", "b", 5)
    assert again.state is ClaimState.DONE
    assert again.outcome == {"status": "succeeded"}


async def test_other_payload_conflicts(store: IdempotencyStore) -> None:
    """Same key, other fingerprint: conflict, in flight or done."""
    await store.claim("k", "fp1", "a", 5)
    assert (await store.claim("k", "fp2", "b", 5)).state is ClaimState.CONFLICT
    await store.complete("k", "a", {"x": 1}, 60)
    assert (await store.claim("k", "fp2", "b", 5)).state is ClaimState.CONFLICT


async def test_in_flight_then_lapsed_lease_is_reclaimed(store: IdempotencyStore) -> None:
    """Another owner's live lease means wait; a lapsed one is taken over, marked reclaimed."""
    await store.claim("k", "fp", "dead-owner", 0.2)
    busy = await store.claim("k", "fp", "b", 5)
    assert (busy.state, busy.owner) == (ClaimState.IN_FLIGHT, "dead-owner")
    await asyncio.sleep(0.3)
    taken = await store.claim("k", "fp", "b", 5)
    assert (taken.state, taken.reclaimed) == (ClaimState.CLAIMED, True)
    assert not await store.complete("k", "dead-owner", {"late": True}, 60)  # fenced out
    assert await store.complete("k", "b", {"ok": True}, 60)


async def test_own_unfinished_claim_is_taken_again_as_reclaimed(store: IdempotencyStore) -> None:
    """A retry by the same owner may follow a vendor call: it must reconcile, not call blind."""
    await store.claim("k", "fp", "a", 5)
    again = await store.claim("k", "fp", "a", 5)
    assert (again.state, again.reclaimed) == (ClaimState.CLAIMED, True)


async def test_renew_keeps_the_claim_and_release_frees_it(store: IdempotencyStore) -> None:
    """Heartbeats extend the lease; release lets the next caller claim fresh."""
    await store.claim("k", "fp", "a", 0.3)
    await asyncio.sleep(0.15)
    assert await store.renew("k", "a", 0.3)
    await asyncio.sleep(0.2)
    assert (await store.claim("k", "fp", "b", 5)).state is ClaimState.IN_FLIGHT
    await store.release("k", "a")
    fresh = await store.claim("k", "fp", "b", 5)
    assert (fresh.state, fresh.reclaimed) == (ClaimState.CLAIMED, False)


async def test_outcomes_expire_after_retention(store: IdempotencyStore) -> None:
    """Past the retention the key is new again."""
    await store.claim("k", "fp", "a", 5)
    await store.complete("k", "a", {"x": 1}, 0.2)
    await asyncio.sleep(0.3)
    assert (await store.claim("k", "fp2", "b", 5)).state is ClaimState.CLAIMED


async def test_concurrent_claims_have_one_winner(store: IdempotencyStore) -> None:
    """50 concurrent claimers of one key: exactly one owns it."""
    claims = await asyncio.gather(*(store.claim("k", "fp", f"o{i}", 5) for i in range(50)))
    assert sum(c.state is ClaimState.CLAIMED for c in claims) == 1
