"""GCRA and lanes: under any arrival pattern the vendor never sees more than the budget."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ratelimit import Gcra, GcraState, InProcessRateLimiter, Lane, LaneBudget, split_budget
from gateway.ratelimit.limiter import RateLimitDeadlineError


def _max_in_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    best, j = 0, 0
    for i, s in enumerate(starts):
        while starts[j] < s - window + 1e-12:
            j += 1
        best = max(best, i - j + 1)
    return best


arrivals = st.lists(
    st.tuples(st.floats(0, 5, allow_nan=False), st.sampled_from(list(Lane))),
    min_size=1,
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(
    arrivals=arrivals,
    rate=st.floats(1, 500),
    burst=st.integers(2, 50),
    share=st.floats(0.05, 0.95),
    window=st.floats(0.01, 3),
)
def test_lanes_never_exceed_account_budget(
    arrivals: list[tuple[float, Lane]], rate: float, burst: int, share: float, window: float
) -> None:
    """In any window w, at most burst + rate*w requests start, whatever the lanes ask."""
    budget = LaneBudget(split_budget(rate, burst, share))
    starts = []
    for now, lane in sorted(arrivals, key=lambda a: a[0]):
        start = budget.reserve(lane, now)
        assert start is not None
        assert start >= now
        starts.append(start)
    assert _max_in_window(starts, window) <= burst + rate * window + 1e-6


@settings(max_examples=100, deadline=None)
@given(
    times=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=200),
    rate=st.floats(1, 100),
)
def test_single_gcra_sustained_rate(times: list[float], rate: float) -> None:
    """A burst of 1 spaces every start by at least the interval."""
    limit, state = Gcra(rate, 1), GcraState()
    starts = [state.reserve(limit, t) for t in sorted(times)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= limit.interval - 1e-9 for g in gaps)


def test_poller_is_not_starved_by_saturating_commands() -> None:
    """With commands asking far above the rate, the poller still gets its share."""
    budget = LaneBudget(split_budget(100, 10, 0.2))
    poller_starts = []
    now = 0.0
    for step in range(2000):
        now = step * 0.001  # commands arrive at 1000/s, ten times the budget
        budget.reserve(Lane.COMMANDS, now)
        if step % 50 == 0:  # the poller asks 20 times a second
            poller_starts.append(budget.reserve(Lane.POLLER, now))
    delays = [s - (i * 0.05) for i, s in enumerate(poller_starts) if s is not None]
    assert max(delays) < 0.1  # its reserved 20/s keeps it on schedule


def test_split_budget_adds_up() -> None:
    """Lane rates add up to the account rate and bursts to its burst."""
    lanes = split_budget(200, 20, 0.25)
    assert lanes[Lane.COMMANDS].rate + lanes[Lane.POLLER].rate == pytest.approx(200)
    assert lanes[Lane.COMMANDS].burst + lanes[Lane.POLLER].burst == 20


async def test_in_process_limiter_respects_deadline() -> None:
    """A slot past the deadline raises at once, without sleeping or reserving."""
    clock = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = InProcessRateLimiter(10, 2, 0.2, clock=lambda: clock[0], sleep=fake_sleep)
    assert await limiter.acquire() == 0.0
    assert await limiter.acquire() == 0.0  # borrowed from the idle poller lane
    waited = await limiter.acquire()
    assert waited == pytest.approx(1 / 8)  # commands lane: 8/s after the poller's 20 %
    with pytest.raises(RateLimitDeadlineError):
        await limiter.acquire(deadline=clock[0] + 0.01)
    assert slept == [pytest.approx(1 / 8)]


def test_without_borrowing_a_lane_keeps_to_its_own_rate() -> None:
    """A commands-only process never takes the poller lane's slots (another process has them)."""
    budget = LaneBudget(split_budget(100, 10, 0.2), borrow=False)
    starts = [budget.reserve(Lane.COMMANDS, 0.0) for _ in range(90)]
    assert all(s is not None for s in starts)
    # 8 at once (its burst share), then 80/s: the 90th starts at (90 - 8) / 80 s
    assert max(s for s in starts if s is not None) == pytest.approx(82 / 80)
