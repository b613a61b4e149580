"""The per-endpoint rate-limit setting: read from the environment, validated, and built into
each account's limiter; the vendor client names the path of every request it limits."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from redis.asyncio import Redis

from gateway.app.accounts import build_limiter
from gateway.ratelimit import (
    EndpointLimits,
    InProcessRateLimiter,
    Lane,
    RedisRateLimiter,
    UnlimitedRateLimiter,
)
from gateway.settings import GatewaySettings, RateLimitSettings
from gateway.vendor_api import VendorClient
from gateway.vendor_api.generated.endpoints.room import RoomStatisticGetRequest
from tests.unit.vendor_api.conftest import ScriptedVendor
from tests.vendor_server import served, transport

STATS = "/room/get_statistic"


def test_endpoints_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default account's and a named account's overrides, as JSON objects."""
    monkeypatch.setenv("GATEWAY_VENDOR__RATE_LIMIT__ENDPOINTS", '{"/room/get_statistic": 5}')
    monkeypatch.setenv("GATEWAY_ACCOUNTS__EMEA__RATE_LIMIT__ENDPOINTS", '{"/room/list": 2.5}')
    settings = GatewaySettings()
    assert settings.vendor.rate_limit.endpoints == {STATS: 5.0}
    emea = settings.account("emea")
    assert emea is not None
    assert emea.rate_limit.endpoints == {"/room/list": 2.5}


def test_no_endpoints_by_default() -> None:
    assert RateLimitSettings().endpoints == {}


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ({"room/get_statistic": 5}, "starts with '/'"),
        ({STATS: 0}, "must be a number > 0"),
        ({STATS: -1}, "must be a number > 0"),
        ({STATS: float("inf")}, "must be a number > 0"),
        ({STATS: float("nan")}, "must be a number > 0"),
        ({STATS: "fast"}, "valid number"),
    ],
)
def test_invalid_endpoints_are_refused(endpoints: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RateLimitSettings.model_validate({"endpoints": endpoints})


def test_build_limiter_adds_the_endpoints_sub_limits() -> None:
    """With overrides, the account's limiter is wrapped; without, it is the plain one."""
    plain = build_limiter("default", RateLimitSettings(), None)
    assert isinstance(plain, InProcessRateLimiter)
    wrapped = build_limiter("default", RateLimitSettings(endpoints={STATS: 5}), None)
    assert isinstance(wrapped, EndpointLimits)
    off = build_limiter("default", RateLimitSettings(enabled=False, endpoints={STATS: 5}), None)
    assert isinstance(off, UnlimitedRateLimiter)


async def test_build_limiter_with_redis_wraps_the_shared_limiter() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0")  # never connected: only built
    try:
        assert isinstance(build_limiter("default", RateLimitSettings(), redis), RedisRateLimiter)
        limiter = build_limiter("default", RateLimitSettings(endpoints={STATS: 5}), redis)
        assert isinstance(limiter, EndpointLimits)
    finally:
        await redis.aclose()


def test_an_unknown_endpoint_path_is_refused_at_start() -> None:
    """A misspelt path would limit nothing: building the limiter fails, naming it."""
    with pytest.raises(ValueError, match="/room/get_statistics"):
        build_limiter("default", RateLimitSettings(endpoints={"/room/get_statistics": 5}), None)


async def test_endpoint_limit_applies_with_the_safety_margin() -> None:
    """Built from settings, 10/s on the endpoint: its requests start 1/(10 x 0.98) s apart
    once its burst (ceil(10) - 1 headroom = 9, the account's 9) is spent."""
    limiter = build_limiter(
        "default", RateLimitSettings(rate_per_s=1000, burst=10, endpoints={STATS: 10}), None
    )
    waits = [await limiter.acquire(Lane.COMMANDS, None, STATS) for _ in range(11)]
    assert waits[:9] == pytest.approx([0.0] * 9, abs=0.005)
    assert waits[9] == pytest.approx(1 / 9.8, abs=0.02)
    assert waits[10] == pytest.approx(1 / 9.8, abs=0.02)


async def test_the_vendor_client_names_each_requests_path() -> None:
    """The token fetch and the call itself are limited under their own paths."""
    seen: list[str | None] = []

    class Recording:
        async def acquire(
            self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
        ) -> float:
            seen.append(path)
            return 0.0

    async with served(ScriptedVendor()) as url:
        client = VendorClient(
            transport(url),
            access_key=SecretStr("demo_access"),
            secret_key=SecretStr("demo_secret"),
            limiter=Recording(),
        )
        try:
            now = int(time.time())
            await client.room_statistic_get(
                RoomStatisticGetRequest(start_time=now - 60, end_time=now)
            )
        finally:
            await client.aclose()
    assert seen == ["/app/get_token", STATS]
