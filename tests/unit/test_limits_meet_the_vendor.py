"""Property: whatever the arrival pattern, what the gateway's limiter lets start, the
simulator's vendor-side GCRA (an independent implementation) accepts without a violation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ratelimit import Lane, LaneBudget, split_budget
from gateway.simulator.ratelimit import GcraLimiter

arrivals = st.lists(
    st.tuples(st.floats(0, 5, allow_nan=False), st.sampled_from(list(Lane))),
    min_size=1,
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(
    arrivals=arrivals,
    rate=st.integers(2, 500),
    burst=st.integers(3, 40),
    share=st.floats(0.05, 0.95),
)
def test_gateway_schedule_never_violates_the_vendor_limit(
    arrivals: list[tuple[float, Lane]], rate: int, burst: int, share: float
) -> None:
    """Starts planned by the gateway (2 % under the rate, one burst slot of headroom) all
    conform at a vendor that allows ``rate`` and ``burst``."""
    budget = LaneBudget(split_budget(rate * 0.98, burst - 1, share))
    starts = sorted(
        start
        for now, lane in sorted(arrivals, key=lambda a: a[0])
        if (start := budget.reserve(lane, now)) is not None
    )
    vendor = GcraLimiter(rate, burst)
    flagged = [s for s in starts if not vendor.conforms(round(s * 1e9))]
    assert flagged == []
