"""The Redis limiter shares one budget between replicas, on the server's clock."""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from gateway.ratelimit import Lane, RateLimitDeadlineError, RedisRateLimiter


async def test_two_replicas_share_one_budget(redis_url: str) -> None:
    """Two limiters on one account: together they start no more than burst + rate*t."""
    redis = Redis.from_url(redis_url)
    account = f"acct-{uuid.uuid4().hex}"
    a = RedisRateLimiter(redis, account, rate=40, burst=4, poller_share=0.25)
    b = RedisRateLimiter(redis, account, rate=40, burst=4, poller_share=0.25)
    starts: list[float] = []
    t0 = time.monotonic()

    async def worker(limiter: RedisRateLimiter, lane: Lane) -> None:
        for _ in range(10):
            await limiter.acquire(lane)
            starts.append(time.monotonic() - t0)

    await asyncio.gather(worker(a, Lane.COMMANDS), worker(b, Lane.COMMANDS), worker(a, Lane.POLLER))
    await redis.aclose()
    starts.sort()
    assert len(starts) == 30
    for i, s in enumerate(starts):
        # the i-th start can come no earlier than the budget allows (10 ms slack for scheduling)
        assert s >= (i + 1 - 4) / 40 - 0.01, (i, s)
    assert starts[-1] < 30 / 40 + 0.5  # and the budget is used, not wasted


async def test_deadline_refuses_a_late_slot(redis_url: str) -> None:
    """A slot past the deadline raises at once instead of sleeping."""
    redis = Redis.from_url(redis_url)
    limiter = RedisRateLimiter(redis, f"acct-{uuid.uuid4().hex}", rate=2, burst=2, poller_share=0.5)
    await limiter.acquire()
    await limiter.acquire()  # borrowed from the idle poller lane
    started = time.monotonic()
    try:
        await limiter.acquire(deadline=time.time() + 0.05)
    except RateLimitDeadlineError:
        refused = True
    else:
        refused = False
    await redis.aclose()
    assert refused
    assert time.monotonic() - started < 0.05
