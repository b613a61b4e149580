"""A full idempotency store refuses new claims plainly and writes nothing, and takes them
again once there is room, while a full Redis still hands out rate-limit slots (chaos cases
disk-full and redis-full run this under load).

SQLite: ``max_page_count`` makes the file full as a full disk does (SQLITE_FULL). Redis: a
``redis-server`` of the test's own with ``maxmemory`` and ``noeviction`` (never the shared
one's settings), filled with filler keys; the suite fails when no ``redis-server`` binary is found.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from gateway.idempotency import ClaimState, IdempotencyStoreFullError
from gateway.idempotency.redis_store import RedisIdempotencyStore
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.ratelimit import Lane
from gateway.ratelimit.limiter import RedisRateLimiter


async def test_sqlite_full_refuses_the_claim_and_writes_nothing(tmp_path: Path) -> None:
    store = await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3")
    try:
        await store.claim("first", "fp", "a", 30)
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages}")  # no room to grow: SQLITE_FULL
        refused = None
        for i in range(2000):
            try:
                await store.claim(f"k{i}", "fp" * 200, "a", 30)
            except IdempotencyStoreFullError as exc:
                refused = (f"k{i}", exc)
                break
        assert refused is not None, "the store never filled"
        key, exc = refused
        assert str(exc).startswith("idempotency store full: database or disk is full")
        assert exc.retryable
        row = store._db.execute("SELECT 1 FROM idempotency WHERE key = ?", (key,)).fetchone()
        assert row is None  # nothing was written: the vendor is never called for it
        store._db.execute(f"PRAGMA max_page_count={pages * 100}")  # space is back
        taken = await store.claim(key, "fp" * 200, "a", 30)
        assert (taken.state, taken.reclaimed) == (ClaimState.CLAIMED, False)
    finally:
        await store.close()


@pytest.fixture
def full_redis() -> Iterator[str]:
    """A redis-server of its own, 2 MB of memory, no eviction."""
    binary = shutil.which("redis-server")
    if binary is None:  # a missing service fails the suite, never skips (scripts/redis.sh)
        pytest.fail("no redis-server on PATH: `scripts/redis.sh start` installs it (make services)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--maxmemory", "2mb"]
    argv += ["--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(  # noqa: S603 - a fixed argv
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            try:
                with SyncRedis.from_url(url) as client:
                    client.ping()
                break
            except Exception:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _fill(url: str) -> None:
    """Filler keys until Redis refuses a write, then the limit a little below what it uses."""
    with SyncRedis.from_url(url) as client:
        for i in range(1_000_000):
            try:
                client.set(f"filler:{i}", b"x" * (8192 if i < 150 else 100))
            except OutOfMemoryError:
                break
        else:
            raise AssertionError("Redis never filled")
        # Right at the limit the measure wobbles by a client's buffers: go clearly over it.
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", used - 64 * 1024)


@pytest.fixture
async def redis_store(full_redis: str) -> AsyncIterator[RedisIdempotencyStore]:
    store = RedisIdempotencyStore(Redis.from_url(full_redis))
    yield store
    await store.close()


async def test_redis_full_refuses_a_new_claim_but_lets_admitted_work_finish(
    full_redis: str, redis_store: RedisIdempotencyStore
) -> None:
    """Before the fix the claim script deleted the key first, which let the HSET through on a
    full Redis: claims grew it past maxmemory while outcomes were refused."""
    store = redis_store
    await store.claim("admitted", "fp", "a", 30)  # scripts loaded, one command in flight
    await store.renew("admitted", "a", 30)
    await store.complete("warm", "a", {}, 60)
    _fill(full_redis)
    with pytest.raises(IdempotencyStoreFullError, match=r"^idempotency store full: Redis"):
        await store.claim("new", "fp", "b", 30)
    async with Redis.from_url(full_redis) as raw:
        assert not await raw.exists("gw:idem:new")  # nothing written
    # The command admitted before the store filled keeps its lease and stores its outcome.
    assert await store.renew("admitted", "a", 30)
    assert await store.complete("admitted", "a", {"status": "succeeded"}, 60)
    assert (await store.claim("admitted", "fp", "c", 30)).state is ClaimState.DONE
    async with Redis.from_url(full_redis) as raw:
        await raw.config_set("maxmemory", 0)  # room again
    taken = await store.claim("new", "fp", "b", 30)
    assert (taken.state, taken.reclaimed) == (ClaimState.CLAIMED, False)


async def test_a_full_redis_still_gives_rate_limit_slots(full_redis: str) -> None:
    """The limiter's keys are two per account: a Redis filled by idempotency keys must not
    stop queries and admitted commands (before, its SET was refused like a new claim)."""
    async with Redis.from_url(full_redis) as redis:
        limiter = RedisRateLimiter(redis, "acct", rate=100, burst=10)
        await limiter.acquire(Lane.COMMANDS)
        _fill(full_redis)
        for _ in range(5):
            await limiter.acquire(Lane.COMMANDS)
            await limiter.acquire(Lane.POLLER)
