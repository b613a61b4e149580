"""The simulator's per-path rate limits: a path limited on its own counts its own violations,
on top of (and independently of) the account's limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from gateway.simulator.config import FaultConfig, PathRateLimit, RateLimitConfig
from gateway.simulator.faults import FaultInjector
from gateway.simulator.ratelimit import VendorRateLimit
from tests.unit.simulator.test_ratelimit import MS, FakeClock, S, _app

STATS = "/room/get_statistic"


def limit_with_stats(**account: object) -> RateLimitConfig:
    """Account 100/s burst 10; /room/get_statistic 5/s burst 2."""
    fields: dict[str, object] = {"enabled": True, "rate_per_s": 100, "burst": 10}
    return RateLimitConfig.model_validate(
        {**fields, **account, "per_path": {STATS: PathRateLimit(rate_per_s=5, burst=2)}}
    )


def test_a_path_over_its_own_limit_is_a_violation_of_that_path_only() -> None:
    """Three requests at once to a path with burst 2: the third is over its limit, though
    well within the account's; other paths are not limited by it."""
    limit = VendorRateLimit(limit_with_stats())
    flags = [limit.check(10 * S, 0.0, STATS) for _ in range(3)]
    assert flags == [False, False, True]
    assert [limit.check(10 * S, 0.0, "/room/list") for _ in range(5)] == [False] * 5
    snapshot = limit.snapshot()
    assert (snapshot["count"], snapshot["checked"]) == (0, 8)
    stats = snapshot["per_path"][STATS]
    assert (stats["count"], stats["checked"]) == (1, 3)
    assert stats["rate_limit"] == {"rate_per_s": 5.0, "burst": 2}
    assert [(b["arrivals"], b["over_limit"]) for b in stats["timeline"]] == [(3, 1)]
    # 200 ms later (one interval at 5/s) the path conforms again.
    assert not limit.check(10 * S + 200 * MS, 0.2, STATS)


def test_each_limit_counts_on_its_own() -> None:
    """A request over the account's limit is still checked (and may conform) on its path."""
    limit = VendorRateLimit(limit_with_stats(burst=1))
    assert not limit.check(0, 0.0, "/room/list")
    assert limit.check(0, 0.0, STATS)  # over the account's limit, within the path's
    snapshot = limit.snapshot()
    assert snapshot["count"] == 1
    assert (snapshot["per_path"][STATS]["count"], snapshot["per_path"][STATS]["checked"]) == (0, 1)


def test_the_path_limit_uses_the_accounts_tolerance() -> None:
    """tolerance_ms widens the path's GCRA as it does the account's."""
    strict = VendorRateLimit(limit_with_stats())
    tolerant = VendorRateLimit(limit_with_stats(tolerance_ms=50))
    for limit in (strict, tolerant):
        limit.check(0, 0.0, STATS)
        limit.check(0, 0.0, STATS)
    assert strict.check(160 * MS, 0.16, STATS)  # 40 ms early for the next 5/s slot
    assert not tolerant.check(160 * MS, 0.16, STATS)


def test_disabled_limit_checks_no_path() -> None:
    limit = VendorRateLimit(limit_with_stats(enabled=False))
    assert [limit.check(0, 0.0, STATS) for _ in range(5)] == [False] * 5
    assert limit.snapshot()["per_path"][STATS]["checked"] == 0


def test_changing_a_path_limit_keeps_the_others_schedules() -> None:
    """A new per-path limit starts fresh; the account's GCRA and counts stay."""
    config = limit_with_stats(burst=1)
    limit = VendorRateLimit(config)
    limit.check(0, 0.0, "/room/list")
    assert limit.check(0, 0.0, "/room/list")
    limit.config = config.model_copy(
        update={"per_path": {STATS: PathRateLimit(rate_per_s=1, burst=1)}}
    )
    assert limit.check(0, 0.0, "/room/list")  # the account's schedule went on
    assert limit.violations == 2
    limit.config = config.model_copy(update={"per_path": {}})
    assert limit.snapshot()["per_path"] == {}


def test_reset_clears_the_paths_too() -> None:
    limit = VendorRateLimit(limit_with_stats())
    for _ in range(3):
        limit.check(0, 0.0, STATS)
    limit.reset()
    stats = limit.snapshot()["per_path"][STATS]
    assert (stats["count"], stats["checked"], stats["timeline"]) == (0, 0, [])
    assert not limit.check(0, 0.0, STATS)


@pytest.mark.parametrize(
    "per_path",
    [{STATS: {"rate_per_s": 0}}, {STATS: {"rate_per_s": 5, "burst": 0}}, {STATS: {"rate": 5}}],
)
def test_invalid_path_limits_are_refused(per_path: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RateLimitConfig.model_validate({"per_path": per_path})


@pytest.fixture
async def stats_limited() -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    """A fake vendor whose /room/get_statistic is limited (reject on), on a fake clock."""
    clock = FakeClock()
    injector = FaultInjector(FaultConfig(rate_limit=limit_with_stats(reject=True)), clock=clock)
    transport = httpx.ASGITransport(app=_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client, clock


async def test_violations_endpoint_reports_per_path_and_rejects(
    stats_limited: tuple[httpx.AsyncClient, FakeClock],
) -> None:
    """Over its path's limit a request is refused (429) and counted under per_path; the scenario
    API can set a path's limit at run time, and DELETE clears it."""
    client, clock = stats_limited
    answers = [await client.post(f"/sdkapi/v2{STATS}") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert (await client.post("/sdkapi/v2/room/list")).status_code == 200
    violations = (await client.get("/_sim/violations")).json()
    assert violations["count"] == 0
    assert violations["per_path"][STATS]["count"] == 1
    assert violations["per_path"][STATS]["checked"] == 3
    patched = await client.patch(
        "/_sim/faults",
        json={"rate_limit": {"per_path": {"/room/list": {"rate_per_s": 1, "burst": 1}}}},
    )
    assert patched.status_code == 200
    clock.now += 1.0
    assert [(await client.post("/sdkapi/v2/room/list")).status_code for _ in range(2)] == [200, 429]
    cleared = (await client.delete("/_sim/violations")).json()
    assert {p: v["count"] for p, v in cleared["per_path"].items()} == {STATS: 0, "/room/list": 0}
