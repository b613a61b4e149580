"""Per-endpoint sub-limits inside an account's budget.

Some vendors limit an endpoint on its own as well as the account ("/room/get_statistic: 5
requests per second"). The account's limit stays the whole budget; an endpoint's limit is a
sub-limit within it, so a request to such an endpoint takes a slot of each: first the
endpoint's, then the account's. In that order because a GCRA slot is a reservation that cannot
leave a hole: an account slot taken while the request still queues for its endpoint would hold
back every account request behind it for as long as the endpoint makes this one wait.

An endpoint's sub-limit has no lanes: commands and the poller share it (the vendor limits the
endpoint, not who calls it). With Redis it is shared by every replica, one key per endpoint
(``gw:rl:<account>:ep:<path>``), on the Redis server's clock like the account's lanes.

The account's wait comes after the endpoint slot, so a request can reach the vendor later than
its endpoint slot; the requests keep their order, but the account's queue draining can bring
two of them closer than the endpoint's interval. The endpoint's burst keeps ``burst_headroom``
slots unused (see :func:`endpoint_burst`), as the account's does, to absorb that.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from redis.asyncio import Redis

from gateway.ratelimit.gcra import Gcra, GcraState
from gateway.ratelimit.lanes import Lane
from gateway.ratelimit.limiter import (
    RateLimitDeadlineError,
    RateLimiter,
    late_allowance,
    sleep_until_slot,
)

__all__ = [
    "EndpointLimiter",
    "EndpointLimits",
    "InProcessEndpointLimiter",
    "RedisEndpointLimiter",
    "endpoint_burst",
    "endpoint_key",
]


def endpoint_burst(rate_per_s: float, account_burst: int, burst_headroom: int) -> int:
    """The burst of an endpoint's sub-limit: about one second of its rate, less the headroom,
    never more than the account's burst, at least 1.

    The setting names only a rate. A vendor that limits an endpoint to N per second lets about
    N through at once at most (often fewer), so a burst of ``ceil(N)`` is the most that is
    plausibly allowed; ``burst_headroom`` slots of it stay unused for the same reason as the
    account's (arrival jitter, and the account's wait after the endpoint slot). It cannot
    exceed the account's burst: the account would not let more start at once anyway.
    """
    return max(1, min(account_burst, math.ceil(rate_per_s) - burst_headroom))


def endpoint_key(account: str, path: str, prefix: str = "gw:rl:") -> str:
    """The Redis key of an endpoint's sub-limit (next to the account's lane keys)."""
    return f"{prefix}{account}:ep:{path}"


class EndpointLimiter(Protocol):
    """One endpoint's sub-limit: waits until a request to it may go (no lanes)."""

    async def acquire(self, deadline: float | None = None) -> float:
        """Sleep until the slot; returns seconds waited. ``deadline`` is on ``time.time()``."""
        ...


class InProcessEndpointLimiter:
    """One process's view of an endpoint's sub-limit: a single GCRA schedule."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = Gcra(rate, burst)
        self._state = GcraState()
        self._clock = clock
        self._sleep = sleep
        self._allowance = late_allowance(rate)

    async def acquire(self, deadline: float | None = None) -> float:
        async def reserve(ahead: float) -> float:
            now = self._clock()
            start = self._state.start_time(self._limit, now + ahead)
            if deadline is not None and start > deadline:
                raise RateLimitDeadlineError("no endpoint rate-limit slot before the deadline")
            return self._state.reserve(self._limit, now + ahead) - now

        return await sleep_until_slot(reserve, self._clock, self._sleep, self._allowance)


# GcraState.reserve on the Redis server's clock (microseconds).
# KEYS[1] = the endpoint's TAT. ARGV = interval_us, tolerance_us, max_wait_us (-1 = none),
# ahead_us (no slot before now + ahead: sleep_until_slot after a late answer).
_RESERVE_ENDPOINT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local earliest = now + tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(earliest, tat - tolerance)
if max_wait >= 0 and start - now > max_wait then return -1 end
local new_tat = math.max(tat, start) + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
-- PEXPIRE first: Redis at maxmemory lets a script that has written go on (limiter.py).
redis.call('PEXPIRE', KEYS[1], ttl_ms)
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return start - now
"""


class RedisEndpointLimiter:
    """An endpoint's sub-limit shared by every replica through Redis (server clock, atomic)."""

    def __init__(
        self,
        redis: Redis,
        account: str,
        path: str,
        rate: float,
        burst: int,
        *,
        prefix: str = "gw:rl:",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = Gcra(rate, burst)
        self._key = endpoint_key(account, path, prefix)
        self._script = redis.register_script(_RESERVE_ENDPOINT)
        self._sleep = sleep
        self._allowance = late_allowance(rate)

    async def acquire(self, deadline: float | None = None) -> float:
        async def reserve(ahead: float) -> float:
            # As RedisRateLimiter: the wait on the server's clock, the deadline on ours.
            max_wait_us = -1 if deadline is None else max(0, int((deadline - time.time()) * 1e6))
            wait_us = await self._script(
                keys=[self._key],
                args=[
                    int(self._limit.interval * 1e6),
                    int(self._limit.tolerance * 1e6),
                    max_wait_us,
                    int(ahead * 1e6),
                ],
            )
            if int(wait_us) < 0:
                raise RateLimitDeadlineError("no endpoint rate-limit slot before the deadline")
            return int(wait_us) / 1e6

        return await sleep_until_slot(reserve, time.monotonic, self._sleep, self._allowance)


class EndpointLimits:
    """An account's limiter with sub-limits for some vendor paths: a request to one of them
    takes its endpoint's slot, then the account's; any other request only the account's."""

    def __init__(self, account: RateLimiter, endpoints: Mapping[str, EndpointLimiter]) -> None:
        self._account = account
        self._endpoints = dict(endpoints)

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        endpoint = self._endpoints.get(path) if path is not None else None
        # An endpoint slot taken when the account then has none before the deadline is lost:
        # the endpoint runs a little under its limit then, never over it.
        waited = 0.0 if endpoint is None else await endpoint.acquire(deadline)
        return waited + await self._account.acquire(lane, deadline, path)
