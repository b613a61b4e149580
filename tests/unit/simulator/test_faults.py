"""The simulator's fault injection: decisions, the middleware, the /_sim/faults API."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from gateway.simulator.config import FaultConfig, LatencyConfig, RateLimitConfig, RequestFaults
from gateway.simulator.faults import (
    ERROR_MESSAGES,
    FaultInjector,
    FaultMiddleware,
    vendor_path,
)
from gateway.simulator.scenario_faults import fault_routes


class FakeTime:
    """A monotonic clock and a sleep that advances it instantly, recording each sleep."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def _vendor(request: Request) -> JSONResponse:
    return JSONResponse({"ret": 0, "msg": "success"})


async def _broken(request: Request) -> JSONResponse:
    raise RuntimeError("endpoint bug")


async def _health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app(injector: FaultInjector) -> FaultMiddleware:
    routes = [
        Route("/sdkapi/v2/broken", _broken),
        Route("/sdkapi/v2/{path:path}", _vendor, methods=["GET", "POST"]),
        Route("/attachment", _vendor, methods=["GET", "POST"]),
        Route("/healthz", _health),
        *fault_routes(injector),
    ]
    return FaultMiddleware(Starlette(routes=routes), injector=injector)


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh fake clock and sleep."""
    return FakeTime()


@pytest.fixture
def injector(fake_time: FakeTime) -> FaultInjector:
    """An injector without faults, seeded, on fake time."""
    return FaultInjector(FaultConfig(), seed=7, clock=fake_time, sleep=fake_time.sleep)


@pytest.fixture
async def client(injector: FaultInjector) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the fake vendor behind the fault middleware."""
    transport = httpx.ASGITransport(app=_app(injector), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http


async def _wait_until(condition: Callable[[], bool]) -> None:
    """Poll for up to 1 s: uvicorn signals neither its start nor a handled hang-up."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met within 1 s")


def _faults(**fields: Any) -> FaultConfig:
    return FaultConfig.model_validate(fields)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("/sdkapi/v2/room/create", "/room/create"),
        ("/sdkapi/v2//room/mix_live/start", "/room/mix_live/start"),
        ("/uploadfile", "/uploadfile"),
        ("/attachment", "/attachment"),
        ("/sdkapi/v2", None),
        ("/_sim/faults", None),
        ("/healthz", None),
        ("/uploadfile/x", None),
    ],
)
def test_vendor_path(raw: str, path: str | None) -> None:
    """Vendor paths lose their /sdkapi/v2 prefix; anything else is not a vendor path."""
    assert vendor_path(raw) == path


async def test_no_faults_means_the_endpoint_answers(
    client: httpx.AsyncClient, injector: FaultInjector, fake_time: FakeTime
) -> None:
    """Without faults the request reaches the endpoint, unslept and unlabelled."""
    answer = await client.get("/sdkapi/v2/room/read")
    assert answer.json() == {"ret": 0, "msg": "success"}
    assert fake_time.slept == []
    assert injector.log.entries()[0].fault is None


def test_injected_codes_appear_at_the_configured_rates() -> None:
    """Over 20 000 seeded draws each code's share is within 1.5 points of its rate."""
    rates = {41005: 0.2, 41001: 0.1, 40004: 0.05}
    injector = FaultInjector(_faults(error_rates=rates, http_5xx_rate=0.1), seed=1)
    counts = Counter(injector.decide("/room/create").fault for _ in range(20_000))
    for code, rate in rates.items():
        assert counts[f"error:{code}"] / 20_000 == pytest.approx(rate, abs=0.015)
    assert counts["http_503"] / 20_000 == pytest.approx(0.1, abs=0.015)
    assert counts[None] / 20_000 == pytest.approx(0.55, abs=0.015)


def test_same_seed_same_faults() -> None:
    """Two injectors with the same seed make the same decisions; reset() replays them."""
    config = _faults(error_rates={41005: 0.5})
    first, second = FaultInjector(config, seed=3), FaultInjector(config, seed=3)
    run = [first.decide("/room/read").fault for _ in range(50)]
    assert run == [second.decide("/room/read").fault for _ in range(50)]
    first.reset()
    assert run == [first.decide("/room/read").fault for _ in range(50)]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (41001, "redis error"),
        (41002, "mysql error"),
        (41003, "http server request timeout"),
        (41005, "internal error"),
        (49999, "injected error"),
    ],
)
async def test_injected_error_answers_with_the_documented_message(
    client: httpx.AsyncClient, injector: FaultInjector, code: int, message: str
) -> None:
    """An injected code is HTTP 200 {"ret": code, "msg": documented message}."""
    injector.config = _faults(error_rates={code: 1.0})
    answer = await client.post("/sdkapi/v2/room/create", data={"topic": "t"})
    assert (answer.status_code, answer.json()) == (200, {"ret": code, "msg": message})
    entry = injector.log.entries()[-1]
    assert (entry.status, entry.ret, entry.fault) == (200, code, f"error:{code}")
    assert ERROR_MESSAGES.get(code, "injected error") == message


async def test_code_endpoints_get_code_not_ret(
    client: httpx.AsyncClient, injector: FaultInjector
) -> None:
    """/room/close answers with "code", as the real vendor does, also when injected."""
    injector.config = _faults(error_rates={41005: 1.0})
    answer = await client.get("/sdkapi/v2/room/close")
    assert answer.json() == {"code": 41005, "msg": "internal error"}
    assert injector.log.entries()[-1].ret == 41005


async def test_fixed_latency_is_slept_before_answering(
    client: httpx.AsyncClient, injector: FaultInjector, fake_time: FakeTime
) -> None:
    """Fixed latency is slept once and shows in the entry's latency and duration."""
    injector.config = _faults(latency={"fixed_ms": 250})
    answer = await client.get("/sdkapi/v2/room/read")
    assert answer.json()["ret"] == 0
    assert fake_time.slept == [0.25]
    entry = injector.log.entries()[-1]
    assert entry.fault == "latency"
    assert entry.latency_ms == pytest.approx(250)
    assert entry.duration_ms >= 250


@pytest.mark.parametrize(
    ("latency", "low", "high", "mean"),
    [
        (LatencyConfig(distribution="uniform", min_ms=10, max_ms=30), 0.010, 0.030, 0.020),
        (LatencyConfig(distribution="normal", mean_ms=50, stddev_ms=5), 0.0, 1.0, 0.050),
        (LatencyConfig(distribution="exponential", mean_ms=40), 0.0, 10.0, 0.040),
    ],
)
def test_latency_distributions(
    latency: LatencyConfig, low: float, high: float, mean: float
) -> None:
    """Drawn latencies stay in range and average to the configured mean."""
    injector = FaultInjector(FaultConfig(latency=latency), seed=11)
    draws = [injector.decide("/room/read").latency_s for _ in range(5000)]
    assert all(low <= d <= high for d in draws)
    assert statistics.fmean(draws) == pytest.approx(mean, rel=0.05)


def test_normal_latency_is_never_negative() -> None:
    """A wide normal distribution is cut at zero."""
    injector = FaultInjector(_faults(latency={"distribution": "normal", "stddev_ms": 50}), seed=2)
    assert min(injector.decide("/x").latency_s for _ in range(1000)) == 0.0


async def test_http_5xx_answers_503(client: httpx.AsyncClient, injector: FaultInjector) -> None:
    """http_5xx_rate=1 answers HTTP 503 with a short text body."""
    injector.config = _faults(http_5xx_rate=1.0)
    answer = await client.get("/sdkapi/v2/room/read")
    assert (answer.status_code, answer.text) == (503, "Service Unavailable")
    entry = injector.log.entries()[-1]
    assert (entry.status, entry.ret, entry.fault) == (503, None, "http_503")


async def test_timeout_hangs_then_answers_504_if_the_client_stays(
    client: httpx.AsyncClient, injector: FaultInjector, fake_time: FakeTime
) -> None:
    """A timeout hangs timeout_hang_s; a client still waiting then gets 504."""
    injector.config = _faults(timeout_rate=1.0, timeout_hang_s=30)
    answer = await client.get("/sdkapi/v2/room/read")
    assert answer.status_code == 504
    assert fake_time.slept == [30]
    assert injector.log.entries()[-1].fault == "timeout"


async def test_timeout_is_a_client_timeout_over_a_socket() -> None:
    """Over a real socket the client times out, and the hang ends when it hangs up."""
    injector = FaultInjector(_faults(timeout_rate=1.0, timeout_hang_s=5))
    server = uvicorn.Server(
        uvicorn.Config(_app(injector), port=0, log_level="warning", lifespan="off", ws="none")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await _wait_until(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/sdkapi/v2/room/read")
        await _wait_until(lambda: injector.log.last_seq > 0)
        entry = injector.log.entries()[-1]
        assert (entry.status, entry.fault) == (None, "timeout")
        assert entry.duration_ms < 2000
    finally:
        server.should_exit = True
        await serving


async def test_outage_window_starts_and_ends(
    client: httpx.AsyncClient, injector: FaultInjector, fake_time: FakeTime
) -> None:
    """During an outage every vendor request gets 503; after it, the endpoint answers."""
    started = await client.post("/_sim/faults/outage", json={"duration_s": 60})
    assert started.json() == {"active": True, "remaining_s": 60}
    for path in ("/sdkapi/v2/room/read", "/sdkapi/v2/app/get_token", "/attachment"):
        answer = await client.get(path)
        assert (answer.status_code, answer.text) == (503, "vendor outage (simulated)")
    assert {e.fault for e in injector.log.entries()} == {"outage"}
    fake_time.now += 59.9
    assert (await client.get("/sdkapi/v2/room/read")).status_code == 503
    fake_time.now += 0.1
    assert (await client.get("/sdkapi/v2/room/read")).status_code == 200
    assert (await client.get("/_sim/faults/outage")).json() == {"active": False, "remaining_s": 0}


async def test_outage_can_be_ended_early(client: httpx.AsyncClient) -> None:
    """DELETE /_sim/faults/outage ends it at once."""
    await client.post("/_sim/faults/outage", json={"duration_s": 600})
    assert (await client.delete("/_sim/faults/outage")).json()["active"] is False
    assert (await client.get("/sdkapi/v2/room/read")).status_code == 200


async def test_outage_spares_sim_and_other_paths(client: httpx.AsyncClient) -> None:
    """The scenario API and non-vendor paths keep working during an outage."""
    await client.post("/_sim/faults/outage", json={"duration_s": 60})
    assert (await client.get("/_sim/faults")).status_code == 200
    assert (await client.get("/healthz")).text == "ok"


async def test_invalid_outage_is_422(client: httpx.AsyncClient) -> None:
    """A missing or non-positive duration is refused with pydantic's errors."""
    answer = await client.post("/_sim/faults/outage", json={"duration_s": 0})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["duration_s"]


async def test_paths_restrict_faults(client: httpx.AsyncClient, injector: FaultInjector) -> None:
    """With `paths` set, only those vendor paths are faulted."""
    injector.config = _faults(http_5xx_rate=1.0, paths=["/room/create"])
    assert (await client.get("/sdkapi/v2/room/create")).status_code == 503
    assert (await client.get("/sdkapi/v2/room/read")).status_code == 200


async def test_per_path_override_replaces_the_top_level_faults(
    client: httpx.AsyncClient, injector: FaultInjector
) -> None:
    """A per_path entry applies to its path (even outside `paths`) instead of the top level."""
    injector.config = FaultConfig(
        http_5xx_rate=1.0,
        paths=["/room/create"],
        per_path={"/room/read": RequestFaults(error_rates={41002: 1.0})},
    )
    assert (await client.get("/sdkapi/v2/room/read")).json() == {"ret": 41002, "msg": "mysql error"}
    assert (await client.get("/sdkapi/v2/room/create")).status_code == 503
    assert (await client.get("/sdkapi/v2/room/list")).status_code == 200


async def test_endpoint_errors_are_logged_as_500(
    client: httpx.AsyncClient, injector: FaultInjector
) -> None:
    """An endpoint that raises is still logged, with the 500 its app answered."""
    answer = await client.get("/sdkapi/v2/broken")
    assert answer.status_code == 500
    assert injector.log.entries()[-1].status == 500


def test_rates_over_one_are_invalid() -> None:
    """Rates must be probabilities that together do not exceed 1."""
    with pytest.raises(ValueError, match="must not exceed 1"):
        _faults(error_rates={41005: 0.6}, timeout_rate=0.5)
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        _faults(error_rates={41005: 1.5})
    with pytest.raises(ValueError, match="min_ms"):
        LatencyConfig(distribution="uniform", min_ms=5, max_ms=1)


async def test_get_and_put_faults(client: httpx.AsyncClient, injector: FaultInjector) -> None:
    """PUT replaces the config and GET answers it; the injector uses it at once."""
    body = {"error_rates": {"41005": 1.0}, "paths": ["/room/create"]}
    put = await client.put("/_sim/faults", json=body)
    assert put.status_code == 200
    got = (await client.get("/_sim/faults")).json()
    assert got["error_rates"] == {"41005": 1.0}
    assert got["paths"] == ["/room/create"]
    assert injector.config.error_rates == {41005: 1.0}
    assert (await client.get("/sdkapi/v2/room/create")).json()["ret"] == 41005


@pytest.mark.parametrize(
    "body",
    [
        {"error_rates": {"41005": 2}},
        {"timeout_rate": 0.7, "http_5xx_rate": 0.7},
        {"latency": {"distribution": "lognormal"}},
        {"error_rate": {"41005": 0.1}},
    ],
)
async def test_put_invalid_faults_is_422(
    client: httpx.AsyncClient, injector: FaultInjector, body: dict[str, Any]
) -> None:
    """An invalid or misspelt config is refused with 422 and pydantic errors, and not applied."""
    answer = await client.put("/_sim/faults", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"]
    assert injector.config == FaultConfig()


async def test_put_non_json_is_422(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is a 422 too."""
    for method in ("PUT", "PATCH"):
        answer = await client.request(method, "/_sim/faults", content=b"{nope")
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["type"] == "json_invalid"


async def test_patch_merges(client: httpx.AsyncClient, injector: FaultInjector) -> None:
    """PATCH is a JSON Merge Patch: objects merge, null removes a key."""
    await client.put(
        "/_sim/faults", json={"error_rates": {"41005": 0.1}, "latency": {"fixed_ms": 5}}
    )
    await client.patch("/_sim/faults", json={"error_rates": {"41001": 0.2}, "latency": None})
    assert injector.config.error_rates == {41005: 0.1, 41001: 0.2}
    assert injector.config.latency == LatencyConfig()
    await client.patch("/_sim/faults", json={"error_rates": {"41005": None}})
    assert injector.config.error_rates == {41001: 0.2}
    refused = await client.patch("/_sim/faults", json={"http_5xx_rate": 0.9})
    assert refused.status_code == 422


async def test_delete_faults_keeps_the_rate_limit(
    client: httpx.AsyncClient, injector: FaultInjector
) -> None:
    """DELETE /_sim/faults removes every fault and the outage, not the rate limit."""
    limit = RateLimitConfig(enabled=True, rate_per_s=5, burst=1)
    injector.config = FaultConfig(http_5xx_rate=1.0, rate_limit=limit)
    injector.start_outage(60)
    answer = await client.delete("/_sim/faults")
    assert answer.json()["http_5xx_rate"] == 0
    assert injector.config == FaultConfig(rate_limit=limit)
    assert (await client.get("/sdkapi/v2/room/read")).status_code == 200


async def test_reset_goes_back_to_the_start_config(fake_time: FakeTime) -> None:
    """reset() restores the start config and clears log, counts, violations and outage."""
    start = _faults(error_rates={41005: 0.5}, rate_limit={"enabled": True, "burst": 1})
    injector = FaultInjector(start, clock=fake_time, sleep=fake_time.sleep)
    transport = httpx.ASGITransport(app=_app(injector))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        for _ in range(3):
            await http.get("/sdkapi/v2/room/read")
        await http.put("/_sim/faults", json={"http_5xx_rate": 1.0})
        await http.post("/_sim/faults/outage", json={"duration_s": 60})
        assert (await http.post("/_sim/faults/reset")).json()["error_rates"] == {"41005": 0.5}
    assert injector.config == start
    assert injector.outage_remaining() == 0
    assert (len(injector.log), injector.log.calls(), injector.rate_limit.violations) == (0, {}, 0)
