"""The Redis limiter shares one budget between replicas, on the server's clock."""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from gateway.ratelimit import (
    EndpointLimits,
    Lane,
    RateLimitDeadlineError,
    RedisEndpointLimiter,
    RedisRateLimiter,
)
from gateway.ratelimit.endpoints import endpoint_key


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


async def test_replicas_share_an_endpoints_sub_limit(redis_url: str) -> None:
    """Two replicas' limiters with a 10/s sub-limit on one endpoint: together its requests keep
    to burst + rate*t, under a Redis key of its own, while another path is not held back."""
    redis = Redis.from_url(redis_url)
    account = f"acct-{uuid.uuid4().hex}"
    path = "/room/get_statistic"

    def replica() -> EndpointLimits:
        return EndpointLimits(
            RedisRateLimiter(redis, account, rate=200, burst=10, poller_share=0.2),
            {path: RedisEndpointLimiter(redis, account, path, rate=10, burst=2)},
        )

    a, b = replica(), replica()
    stats: list[float] = []
    others: list[float] = []
    t0 = time.monotonic()

    async def worker(limiter: EndpointLimits, on: str | None, starts: list[float]) -> None:
        for _ in range(6):
            await limiter.acquire(Lane.COMMANDS, None, on)
            starts.append(time.monotonic() - t0)

    await asyncio.gather(worker(a, path, stats), worker(b, path, stats), worker(a, None, others))
    key_ttl = await redis.pttl(endpoint_key(account, path))
    await redis.aclose()
    stats.sort()
    assert len(stats) == 12
    for i, s in enumerate(stats):
        assert s >= (i + 1 - 2) / 10 - 0.01, (i, s)  # burst 2, then 10/s across both replicas
    assert stats[-1] < 12 / 10 + 0.5
    assert max(others) < 0.3  # six other requests at 160/s: not held to the endpoint's 10/s
    assert key_ttl > 0  # the endpoint's own key, expiring once idle


async def test_the_endpoint_deadline_refuses_a_late_slot(redis_url: str) -> None:
    """An endpoint slot past the deadline raises at once, before the account is asked."""
    redis = Redis.from_url(redis_url)
    account = f"acct-{uuid.uuid4().hex}"
    path = "/room/get_statistic"
    limiter = EndpointLimits(
        RedisRateLimiter(redis, account, rate=100, burst=10, poller_share=0.2),
        {path: RedisEndpointLimiter(redis, account, path, rate=1, burst=1)},
    )
    await limiter.acquire(Lane.COMMANDS, None, path)
    tat_before = await redis.get(f"gw:rl:{account}:commands")
    started = time.monotonic()
    try:
        await limiter.acquire(Lane.COMMANDS, time.time() + 0.2, path)
    except RateLimitDeadlineError:
        refused = True
    else:
        refused = False
    account_tat = await redis.get(f"gw:rl:{account}:commands")
    await redis.aclose()
    assert refused
    assert time.monotonic() - started < 0.1
    assert account_tat == tat_before  # the refused request took no account slot
