"""Rate limiters the vendor client awaits before each HTTP request: in-process, and
Redis-backed for replicas (the lane and deadline come from the caller's ``RequestBudget``).

Both answer ``acquire(lane, deadline, path)`` by sleeping until the reserved slot (or raising
:class:`RateLimitDeadlineError` at once if the slot would come after the deadline, so a
command that cannot make its deadline fails without burning budget). They limit the account
as a whole, so they ignore the vendor ``path``; ``gateway.ratelimit.endpoints`` adds the
per-endpoint sub-limits on top.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis

from gateway.errors import GatewayError
from gateway.ratelimit.lanes import Lane, LaneBudget, split_budget

__all__ = [
    "InProcessRateLimiter",
    "OnLane",
    "RateLimitDeadlineError",
    "RateLimiter",
    "RedisRateLimiter",
    "UnlimitedRateLimiter",
    "late_allowance",
    "sleep_until_slot",
]


class RateLimitDeadlineError(GatewayError):
    """The next free slot comes after the command's deadline."""


# A task that wakes well after its slot (an event loop busy starting a rebalanced backlog, a
# descheduled process) would send at the same moment as every other task whose slot fell due
# meanwhile: a burst the vendor counts as a violation. Such a task takes a fresh slot instead;
# the stale one is simply not used. A reservation can also come back late by itself: with a
# slow link to Redis (chaos net-redis: 500 ms) every answer arrives after its slot, and the
# answers held up while the link was slow arrive together when it recovers. So the fresh slot
# is asked for at least as far ahead as the late answer took to come back: it then arrives
# before its slot, and the task waits for it. After a few tries it goes anyway (a loop that
# late is the bigger problem, and the vendor's own tolerance absorbs a single request).
_LATE_TRIES = 3


def late_allowance(rate: float) -> float:
    """How late after its slot a request may still start: two slots, within 5-50 ms."""
    return min(0.05, max(0.005, 2.0 / rate))


async def sleep_until_slot(
    reserve: Callable[[float], Awaitable[float]],
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    allowance: float,
) -> float:
    """Reserve and sleep until the slot, reserving again when woken too late; seconds waited.

    ``reserve(ahead)`` reserves the next slot no earlier than ``ahead`` seconds from now and
    returns how far from now it is."""
    waited = 0.0
    ahead = 0.0
    for _ in range(_LATE_TRIES):
        now = clock()
        start = now + await reserve(ahead)
        answered = clock()
        if start > answered:
            await sleep(start - answered)
            waited += start - answered
        if clock() - start <= allowance:
            break
        ahead = answered - now  # how long the late answer took: ask that far ahead
    return waited


class RateLimiter(Protocol):
    """Waits until a request may go to the vendor."""

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        """Sleep until the slot; returns seconds waited. ``deadline`` is on ``time.time()``;
        ``path`` is the vendor path the request goes to (for per-endpoint limits)."""
        ...


class OnLane:
    """An account's limiter drawn on one lane whatever the caller names: for a client whose
    callers do not know which role's share they spend (the readiness probe's token fetch)."""

    def __init__(self, limiter: RateLimiter, lane: Lane) -> None:
        self._limiter = limiter
        self._lane = lane

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        return await self._limiter.acquire(self._lane, deadline, path)


class UnlimitedRateLimiter:
    """For an account whose limit is switched off."""

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        return 0.0


class InProcessRateLimiter:
    """One process's view of an account's budget."""

    def __init__(
        self,
        rate: float,
        burst: int,
        poller_share: float = 0.2,
        *,
        borrow: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._budget = LaneBudget(split_budget(rate, burst, poller_share), borrow=borrow)
        self._clock = clock
        self._sleep = sleep
        self._allowance = late_allowance(rate)

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        async def reserve(ahead: float) -> float:
            now = self._clock()
            start = self._budget.reserve(lane, now + ahead, deadline)
            if start is None:
                raise RateLimitDeadlineError("no rate-limit slot before the command's deadline")
            return start - now

        return await sleep_until_slot(reserve, self._clock, self._sleep, self._allowance)


# The same lane arithmetic as lanes.py, on the Redis server's clock (microseconds).
# KEYS[1] = commands TAT, KEYS[2] = poller TAT. ARGV = lane index (1|2), interval_us[1],
# tolerance_us[1], interval_us[2], tolerance_us[2], max_wait_us (-1 = none), ahead_us (no slot
# before now + ahead: sleep_until_slot after a late answer).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lane = tonumber(ARGV[1])
local other = 3 - lane
local interval = {tonumber(ARGV[2]), tonumber(ARGV[4])}
local tolerance = {tonumber(ARGV[3]), tonumber(ARGV[5])}
local max_wait = tonumber(ARGV[6])
local earliest = now + tonumber(ARGV[7])
local function tat(i) return tonumber(redis.call('GET', KEYS[i]) or '0') end
local function conforms(i) return tat(i) - tolerance[i] <= earliest end
local function reserve(i)
  local start = math.max(earliest, tat(i) - tolerance[i])
  local new_tat = math.max(tat(i), start) + interval[i]
  local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
  -- PEXPIRE first: a write that cannot grow memory, after which a Redis at maxmemory
  -- (noeviction) lets the script's SET through. Two small keys per account: a Redis filled
  -- by idempotency keys must not stop every vendor request (queries, admitted commands).
  redis.call('PEXPIRE', KEYS[i], ttl_ms)
  redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', ttl_ms)
  return start - now
end
if (not conforms(lane)) and conforms(other) then return reserve(other) end
local start = math.max(earliest, tat(lane) - tolerance[lane])
if max_wait >= 0 and start - now > max_wait then return -1 end
return reserve(lane)
"""


class RedisRateLimiter:
    """An account's budget shared by every replica through Redis (server clock, atomic script)."""

    def __init__(
        self,
        redis: Redis,
        account: str,
        rate: float,
        burst: int,
        poller_share: float = 0.2,
        *,
        prefix: str = "gw:rl:",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = split_budget(rate, burst, poller_share)
        self._keys = [f"{prefix}{account}:{lane.value}" for lane in (Lane.COMMANDS, Lane.POLLER)]
        self._script = redis.register_script(_RESERVE)
        self._sleep = sleep
        self._allowance = late_allowance(rate)

    async def acquire(
        self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
    ) -> float:
        c, p = self._limits[Lane.COMMANDS], self._limits[Lane.POLLER]

        async def reserve(ahead: float) -> float:
            # The wait is measured on the server's clock, the lateness on ours: both are
            # differences, so the clocks need not agree.
            max_wait_us = -1 if deadline is None else max(0, int((deadline - time.time()) * 1e6))
            wait_us = await self._script(
                keys=self._keys,
                args=[
                    1 if lane is Lane.COMMANDS else 2,
                    int(c.interval * 1e6),
                    int(c.tolerance * 1e6),
                    int(p.interval * 1e6),
                    int(p.tolerance * 1e6),
                    max_wait_us,
                    int(ahead * 1e6),
                ],
            )
            if int(wait_us) < 0:
                raise RateLimitDeadlineError("no rate-limit slot before the command's deadline")
            return int(wait_us) / 1e6

        return await sleep_until_slot(reserve, time.monotonic, self._sleep, self._allowance)
