"""The operations endpoint's readiness answer is reused for a second; it listens on loopback
unless told otherwise; /metrics counts the event loop's tasks."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import REGISTRY

from gateway.app.ops_server import CachedReadiness, build_ops_app
from gateway.app.readiness import CHECK_NAMES, Readiness, run_checks
from gateway.settings import GatewaySettings
from gateway.telemetry.metrics import track_asyncio_tasks


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_readyz_runs_the_checks_at_most_once_a_second() -> None:
    """Twenty /readyz calls, ten of them at once, cost one round of checks. Fails on the old
    code, which asked the broker and the vendor on every call."""
    calls = {"broker": 0}

    async def broker() -> None:
        calls["broker"] += 1
        await asyncio.sleep(0.05)

    app = build_ops_app({"broker": broker})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
        answers = await asyncio.gather(*(http.get("/readyz") for _ in range(10)))
        answers += [await http.get("/readyz") for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert calls["broker"] == 1


async def test_the_cached_answer_expires() -> None:
    """After cache_s the checks run again, and a failure shows then."""
    clock = Clock()
    healthy = {"ok": True}

    async def broker() -> None:
        if not healthy["ok"]:
            raise ConnectionError("away")

    readiness = CachedReadiness({"broker": broker}, cache_s=1.0, clock=clock)
    assert (await readiness())[0] is True
    healthy["ok"] = False
    clock.now += 0.5
    assert (await readiness())[0] is True
    clock.now += 0.6
    ready, outcomes = await readiness()
    assert ready is False
    assert outcomes == {"broker": "failed: ConnectionError"}
    assert readiness.runs == 2


def test_ops_endpoint_listens_on_loopback_by_default() -> None:
    """Outside a container nothing but this host reaches /metrics and /readyz. Fails on the
    old code (0.0.0.0)."""
    assert GatewaySettings().ops.host == "127.0.0.1"


async def test_run_checks_reports_each_outcome_by_class_name_only() -> None:
    """Checks run at once, each within its timeout; a failure is named by its class, never its
    message (which could name a host), and one failing check makes the whole answer not ready."""

    async def ok() -> None:
        await asyncio.sleep(0.05)

    async def refused() -> None:
        raise ConnectionRefusedError("broker-7.internal:9092 refused")

    async def hangs() -> None:
        await asyncio.sleep(10)

    loop = asyncio.get_running_loop()
    started = loop.time()
    ready, outcomes = await run_checks({"a": ok, "b": refused, "c": hangs, "d": ok}, 0.2)
    assert loop.time() - started < 1.0
    assert ready is False
    assert outcomes == {
        "a": "ok",
        "b": "failed: ConnectionRefusedError",
        "c": "timed out",
        "d": "ok",
    }
    assert (await run_checks({"a": ok}, 0.2)) == (True, {"a": "ok"})


def test_every_role_has_the_same_named_checks() -> None:
    """The ops endpoint of every role asks the same two checks, under one set of names."""
    assert tuple(Readiness(GatewaySettings()).checks) == CHECK_NAMES == ("kafka", "vendor")


async def test_metrics_count_the_event_loops_unfinished_tasks() -> None:
    """``gateway_asyncio_tasks`` on /metrics is the loop's count of unfinished tasks at the
    moment of the scrape: five tasks more while they wait, back to the same once they end."""
    track_asyncio_tasks(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=build_ops_app({}))

    async def scrape(http: httpx.AsyncClient) -> float:
        text = (await http.get("/metrics")).text
        (line,) = [x for x in text.splitlines() if x.startswith("gateway_asyncio_tasks ")]
        return float(line.split()[1])

    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
        before = await scrape(http)
        assert before >= 1  # this test's own task at least
        release = asyncio.Event()
        waiting = [asyncio.create_task(release.wait()) for _ in range(5)]
        await asyncio.sleep(0)
        during = await scrape(http)
        release.set()
        await asyncio.gather(*waiting)
        after = await scrape(http)
    assert during == before + 5
    assert after == before
    assert REGISTRY.get_sample_value("gateway_asyncio_tasks") == before
