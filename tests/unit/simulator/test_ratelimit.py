"""The simulator's vendor-side rate limit: exact GCRA, violations, arrival timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.simulator.config import FaultConfig, RateLimitConfig
from gateway.simulator.faults import FaultInjector, FaultMiddleware
from gateway.simulator.ratelimit import GcraLimiter, VendorRateLimit
from gateway.simulator.scenario_faults import fault_routes

MS = 1_000_000  # nanoseconds
S = 1_000_000_000


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _vendor(request: Request) -> JSONResponse:
    return JSONResponse({"ret": 0, "msg": "success"})


def _app(injector: FaultInjector) -> FaultMiddleware:
    routes = [Route("/sdkapi/v2/{path:path}", _vendor, methods=["GET", "POST"])]
    return FaultMiddleware(Starlette(routes=[*routes, *fault_routes(injector)]), injector=injector)


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
async def limited(clock: FakeClock) -> AsyncIterator[tuple[httpx.AsyncClient, FaultInjector]]:
    """A client of a fake vendor limited to 10/s with a burst of 2, on a fake clock."""
    limit = RateLimitConfig(enabled=True, rate_per_s=10, burst=2)
    injector = FaultInjector(FaultConfig(rate_limit=limit), clock=clock)
    transport = httpx.ASGITransport(app=_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client, injector


def test_burst_arrives_at_once_then_one_per_interval() -> None:
    """`burst` requests conform at the same instant; the next needs a full interval."""
    gcra = GcraLimiter(rate_per_s=10, burst=3)
    assert [gcra.conforms(0) for _ in range(4)] == [True, True, True, False]
    assert not gcra.conforms(100 * MS - 1)
    assert gcra.conforms(100 * MS)
    assert not gcra.conforms(100 * MS)


def test_non_conforming_requests_do_not_consume_budget() -> None:
    """A flagged request leaves the schedule alone: the vendor would have refused it."""
    gcra = GcraLimiter(rate_per_s=1, burst=1)
    assert gcra.conforms(0)
    assert not any(gcra.conforms(t * 100 * MS) for t in range(1, 10))
    assert gcra.conforms(S)


def test_fractional_rates_are_exact() -> None:
    """A rate of 3/s allows the 2nd request at 1/3 s to the nanosecond, rounded up."""
    gcra = GcraLimiter(rate_per_s=3, burst=1)
    assert gcra.conforms(0)
    assert not gcra.conforms(333_333_333)
    assert gcra.conforms(333_333_334)


def test_decimal_rate_means_its_printed_value() -> None:
    """0.1/s is exactly one request per 10 s, not the binary float's approximation."""
    gcra = GcraLimiter(rate_per_s=0.1, burst=1)
    assert gcra.conforms(0)
    assert not gcra.conforms(10 * S - 1)
    assert gcra.conforms(10 * S)


def test_tolerance_absorbs_jitter() -> None:
    """With 5 ms tolerance a request 4 ms early conforms; without, it is flagged."""
    strict = GcraLimiter(rate_per_s=10, burst=1)
    lenient = GcraLimiter(rate_per_s=10, burst=1, tolerance_ns=5 * MS)
    assert strict.conforms(0)
    assert lenient.conforms(0)
    assert not strict.conforms(96 * MS)
    assert lenient.conforms(96 * MS)


def test_invalid_parameters_are_refused() -> None:
    """Zero burst, a non-positive rate or a negative tolerance is an error."""
    with pytest.raises(ValueError, match="burst"):
        GcraLimiter(rate_per_s=1, burst=0)
    with pytest.raises(ValueError, match="rate"):
        GcraLimiter(rate_per_s=0, burst=1)
    with pytest.raises(ValueError, match="tolerance"):
        GcraLimiter(rate_per_s=1, burst=1, tolerance_ns=-1)


def test_disabled_limit_flags_nothing_but_counts_arrivals() -> None:
    """While disabled nothing is over the limit, and the timeline still counts arrivals."""
    limit = VendorRateLimit(RateLimitConfig(enabled=False, rate_per_s=1, burst=1))
    assert not any(limit.check(5 * S, 0.0) for _ in range(10))
    snapshot = limit.snapshot()
    assert snapshot["count"] == 0
    assert snapshot["checked"] == 0
    assert snapshot["timeline"][0]["arrivals"] == 10


def test_timeline_buckets_arrivals_per_100ms() -> None:
    """Arrivals and violations are counted per 100 ms bucket, with the bucket's start times."""
    limit = VendorRateLimit(RateLimitConfig(enabled=True, rate_per_s=10, burst=1))
    for t_ms in (0, 10, 99, 100, 350):
        limit.check(10 * S + t_ms * MS, 5000.0 + t_ms / 1000)
    timeline = limit.snapshot()["timeline"]
    assert [(b["mono"], b["arrivals"], b["over_limit"]) for b in timeline] == [
        (10.0, 3, 2),
        (10.1, 1, 0),
        (10.3, 1, 0),
    ]
    assert timeline[2]["ts"] == pytest.approx(5000.3)


def test_changing_the_config_starts_a_fresh_gcra_only_when_it_differs() -> None:
    """An equal config keeps the schedule; a different one starts from a full burst."""
    config = RateLimitConfig(enabled=True, rate_per_s=1, burst=1)
    limit = VendorRateLimit(config)
    assert not limit.check(0, 0.0)
    limit.config = config.model_copy()
    assert limit.check(0, 0.0)
    limit.config = config.model_copy(update={"burst": 2})
    assert not limit.check(0, 0.0)
    assert limit.violations == 1


def test_reset_clears_violations_timeline_and_schedule() -> None:
    """reset() forgets violations, the timeline and the GCRA state."""
    limit = VendorRateLimit(RateLimitConfig(enabled=True, rate_per_s=1, burst=1))
    limit.check(0, 0.0)
    assert limit.check(0, 0.0)
    limit.reset()
    assert limit.snapshot()["count"] == 0
    assert limit.snapshot()["timeline"] == []
    assert not limit.check(0, 0.0)


async def test_over_limit_requests_are_served_and_flagged(
    limited: tuple[httpx.AsyncClient, FaultInjector], clock: FakeClock
) -> None:
    """Without `reject`, an over-limit request is answered normally and logged `over_limit`."""
    client, injector = limited
    answers = [await client.get("/sdkapi/v2/room/read") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [e.over_limit for e in injector.log.entries()] == [False, False, True]
    clock.now += 0.1
    await client.get("/sdkapi/v2/room/read")
    assert not injector.log.entries()[-1].over_limit
    violations = (await client.get("/_sim/violations")).json()
    assert violations["count"] == 1
    assert violations["checked"] == 4
    assert violations["rate_limit"]["rate_per_s"] == 10
    assert sum(b["arrivals"] for b in violations["timeline"]) == 4


async def test_reject_answers_429(limited: tuple[httpx.AsyncClient, FaultInjector]) -> None:
    """With `reject`, the over-limit request gets HTTP 429 and no vendor answer."""
    client, injector = limited
    injector.config = injector.config.model_copy(
        update={"rate_limit": RateLimitConfig(enabled=True, rate_per_s=10, burst=1, reject=True)}
    )
    first = await client.get("/sdkapi/v2/room/read")
    second = await client.get("/sdkapi/v2/room/read")
    assert (first.status_code, second.status_code) == (200, 429)
    entry = injector.log.entries()[-1]
    assert (entry.status, entry.ret, entry.over_limit, entry.fault) == (429, None, True, None)


async def test_sim_paths_are_not_rate_limited(
    limited: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """Scenario API calls neither count as arrivals nor hit the limit."""
    client, _ = limited
    for _ in range(5):
        await client.get("/_sim/faults")
    violations = (await client.get("/_sim/violations")).json()
    assert violations["checked"] == 0
    assert violations["timeline"] == []


async def test_delete_violations_clears_them(
    limited: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """DELETE /_sim/violations zeroes the count and the timeline."""
    client, _ = limited
    for _ in range(3):
        await client.get("/sdkapi/v2/room/read")
    cleared = (await client.delete("/_sim/violations")).json()
    assert (cleared["count"], cleared["timeline"]) == (0, [])


# -- property: the GCRA accepts exactly the requests that keep every window within bounds ------

_any_rate = st.floats(min_value=0.01, max_value=10_000, allow_nan=False, allow_infinity=False)
# Rates whose interval is a whole number of nanoseconds, so arrivals can land exactly on it.
_round_rate = st.sampled_from([0.5, 1.0, 2.0, 4.0, 10.0, 40.0, 1000.0])
_tolerances = st.one_of(st.just(0), st.integers(0, 10).map(lambda k: k * MS), st.integers(0, S))


@st.composite
def _scenarios(draw: st.DrawFn) -> tuple[float, int, int, list[int]]:
    """A rate, burst, tolerance and arrival gaps, often exactly on interval boundaries."""
    rate = draw(st.one_of(_round_rate, _any_rate))
    interval = int(S / Fraction(repr(rate)))
    tolerance = draw(_tolerances)
    gap = st.one_of(
        st.just(0),
        st.integers(0, 4).map(lambda k: k * interval),
        st.integers(0, 4).map(lambda k: max(0, k * interval - tolerance)),
        st.integers(0, 10 * MS),
        st.integers(0, 3 * S),
    )
    return rate, draw(st.integers(1, 20)), tolerance, draw(st.lists(gap, max_size=60))


def _arrivals(gaps: list[int]) -> list[int]:
    times, now = [], 5 * S
    for gap in gaps:
        now += gap
        times.append(now)
    return times


def _bound(rate: Fraction, burst: int, window_ns: int) -> Fraction:
    """How many requests any closed window of ``window_ns`` may hold: burst + rate * w."""
    return burst + rate * Fraction(window_ns, S)


@given(_scenarios())
def test_accepted_requests_never_exceed_burst_plus_rate_times_window(
    scenario: tuple[float, int, int, list[int]],
) -> None:
    """In any window of length w the accepted requests number at most burst + rate*(w + tol)."""
    rate, burst, tolerance, gaps = scenario
    gcra = GcraLimiter(rate, burst, tolerance)
    exact_rate = Fraction(repr(rate))
    accepted = [t for t in _arrivals(gaps) if gcra.conforms(t)]
    # The fullest window of a given length starts and ends on accepted requests.
    for i, start in enumerate(accepted):
        for j in range(i, len(accepted)):
            assert j - i + 1 <= _bound(exact_rate, burst, accepted[j] - start + tolerance)


@given(_scenarios())
def test_flags_exactly_the_requests_that_would_overfill_a_window(
    scenario: tuple[float, int, int, list[int]],
) -> None:
    """A request is flagged iff accepting it would put some window over the bound."""
    rate, burst, tolerance, gaps = scenario
    gcra = GcraLimiter(rate, burst, tolerance)
    exact_rate = Fraction(repr(rate))
    accepted: list[int] = []
    for t in _arrivals(gaps):
        # Windows ending at t that start on accepted request k hold len(accepted) - k + 1.
        within = all(
            len(accepted) - k + 1 <= _bound(exact_rate, burst, t - start + tolerance)
            for k, start in enumerate(accepted)
        )
        assert gcra.conforms(t) == within
        if within:
            accepted.append(t)
