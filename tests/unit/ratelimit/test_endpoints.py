"""Per-endpoint sub-limits: an endpoint's requests keep to its rate, inside the account's budget,
and the other requests are not held back by it (virtual time: no real sleeping)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from typing import Any

import pytest

from gateway.ratelimit import (
    EndpointLimits,
    InProcessEndpointLimiter,
    InProcessRateLimiter,
    Lane,
    OnLane,
    RateLimitDeadlineError,
    endpoint_burst,
)

STATS = "/room/get_statistic"


class VirtualTime:
    """A clock and a sleep for concurrent tasks: time jumps to the next sleeper's wake-up once
    every task is blocked, so the tests see exact start times."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def run(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        """Run ``coros`` concurrently to completion; their results in order."""
        tasks = [asyncio.create_task(c) for c in coros]
        while True:
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return [t.result() for t in tasks]
            assert self._sleepers, "tasks blocked on something other than the virtual sleep"
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)


def limits(
    vt: VirtualTime,
    *,
    account: tuple[float, int, float] = (100.0, 10, 0.2),
    endpoint: tuple[float, int] = (5.0, 1),
    borrow: bool = True,
) -> EndpointLimits:
    rate, burst, share = account
    return EndpointLimits(
        InProcessRateLimiter(rate, burst, share, borrow=borrow, clock=vt.clock, sleep=vt.sleep),
        {STATS: InProcessEndpointLimiter(*endpoint, clock=vt.clock, sleep=vt.sleep)},
    )


async def test_endpoint_requests_keep_to_its_rate_and_others_are_not_held_back() -> None:
    """Four requests to a 5/s endpoint start 200 ms apart; twenty others meanwhile go at the
    account's rate (80/s on the commands lane), not at the endpoint's."""
    vt = VirtualTime()
    limiter = limits(vt)

    async def request(path: str | None) -> tuple[str | None, float]:
        await limiter.acquire(Lane.COMMANDS, None, path)
        return path, vt.now - 1000.0

    starts = await vt.run(*[request(STATS) for _ in range(4)], *[request(None) for _ in range(20)])
    stats = sorted(t for p, t in starts if p == STATS)
    others = sorted(t for p, t in starts if p is None)
    assert stats == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert len(others) == 20
    # At the endpoint's 5/s the twenty would need 4 s; at 80/s after a burst of 10, < 0.2 s.
    assert others[-1] < 0.2
    # Together, never more than the account allows: burst 10, then 100/s.
    for i, t in enumerate(sorted(stats + others)):
        assert t >= (i + 1 - 10) / 100 - 1e-9, (i, t)


async def test_an_endpoint_request_also_takes_an_account_slot() -> None:
    """An endpoint far above the account's rate: the account's limit still spaces its requests."""
    vt = VirtualTime()
    # commands lane alone: 5/s, burst 1 (no borrowing); the endpoint would allow 100/s.
    limiter = limits(vt, account=(10.0, 2, 0.5), endpoint=(100.0, 10), borrow=False)

    async def request() -> float:
        await limiter.acquire(Lane.COMMANDS, None, STATS)
        return vt.now - 1000.0

    assert sorted(await vt.run(*[request() for _ in range(3)])) == pytest.approx([0.0, 0.2, 0.4])


async def test_the_endpoint_deadline_refuses_at_once_without_an_account_slot() -> None:
    """An endpoint slot past the deadline raises before the account is asked: the account's
    next slot is still free."""
    vt = VirtualTime()
    limiter = limits(vt, account=(10.0, 2, 0.5), endpoint=(1.0, 1), borrow=False)
    await vt.run(limiter.acquire(Lane.COMMANDS, None, STATS))  # endpoint's next slot: +1 s
    vt.now += 0.2  # the account's commands lane (5/s) has a slot again
    with pytest.raises(RateLimitDeadlineError):
        await vt.run(limiter.acquire(Lane.COMMANDS, vt.now + 0.5, STATS))
    assert await vt.run(limiter.acquire(Lane.COMMANDS, vt.now, None)) == [0.0]


async def test_the_account_deadline_applies_after_the_endpoint_slot() -> None:
    """The endpoint has a slot but the account has none before the deadline: refused."""
    vt = VirtualTime()
    limiter = limits(vt, account=(10.0, 2, 0.5), endpoint=(100.0, 10), borrow=False)
    await vt.run(limiter.acquire(Lane.COMMANDS, None, None))  # the account's next slot: +0.2 s
    with pytest.raises(RateLimitDeadlineError):
        await vt.run(limiter.acquire(Lane.COMMANDS, vt.now + 0.1, STATS))


async def test_on_lane_passes_the_path_on() -> None:
    """The readiness probe's OnLane wrapper keeps the endpoint's sub-limit in force."""
    vt = VirtualTime()
    limiter = OnLane(limits(vt), Lane.POLLER)

    async def request() -> float:
        await limiter.acquire(Lane.COMMANDS, None, STATS)
        return vt.now - 1000.0

    assert sorted(await vt.run(request(), request())) == pytest.approx([0.0, 0.2])


@pytest.mark.parametrize(
    ("rate", "account_burst", "headroom", "expected"),
    [
        (5.0, 9, 1, 4),  # a second of the rate, less the headroom
        (4.2, 9, 1, 4),  # a fraction rounds up: 5 a second at most
        (0.5, 9, 1, 1),  # never below 1
        (100.0, 9, 1, 9),  # never above the account's burst
        (5.0, 9, 0, 5),
    ],
)
def test_endpoint_burst(rate: float, account_burst: int, headroom: int, expected: int) -> None:
    assert endpoint_burst(rate, account_burst, headroom) == expected
