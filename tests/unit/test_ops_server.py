"""The operations endpoint's readiness answer is reused for a second; it listens on loopback
unless told otherwise."""

from __future__ import annotations

import asyncio

import httpx

from gateway.app.ops_server import CachedReadiness, build_ops_app
from gateway.settings import GatewaySettings


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
