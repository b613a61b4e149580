"""The operations endpoint every `gateway run` process serves."""

from __future__ import annotations

import asyncio

import httpx

from gateway.app.embedded_simulator import free_port, simulator_vendor
from gateway.app.ops_server import serve_ops
from gateway.app.readiness import CHECK_NAMES, Readiness
from gateway.settings import GatewaySettings, KafkaSettings
from gateway.telemetry.metrics import METRIC_NAMES


async def test_health_ready_and_metrics(kafka_bootstrap: str, simulator_url: str) -> None:
    """Alive always; ready only with broker and vendor, reported as the checks ``kafka`` and
    ``vendor``; metrics in Prometheus text format."""
    good = GatewaySettings(
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        vendor=simulator_vendor(simulator_url),
    )
    bad = GatewaySettings(
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        vendor=simulator_vendor(f"http://127.0.0.1:{free_port()}"),
    )
    stop = asyncio.Event()
    ports = free_port(), free_port()
    readiness = Readiness(good), Readiness(bad)
    servers = [
        asyncio.create_task(serve_ops("127.0.0.1", port, r.checks, stop))
        for port, r in zip(ports, readiness, strict=True)
    ]
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(100):
                try:
                    await http.get(f"http://127.0.0.1:{ports[1]}/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert (await http.get(f"http://127.0.0.1:{ports[0]}/healthz")).status_code == 200
            ready = await http.get(f"http://127.0.0.1:{ports[0]}/readyz")
            assert ready.status_code == 200, ready.text
            # One body and one set of check names for every role (gateway/app/readiness.py).
            assert ready.json() == {"ready": True, "checks": dict.fromkeys(CHECK_NAMES, "ok")}
            not_ready = await http.get(f"http://127.0.0.1:{ports[1]}/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {
                "kafka": "ok",
                "vendor": "failed: VendorConnectionError",
            }
            metrics = await http.get(f"http://127.0.0.1:{ports[0]}/metrics")
    finally:
        stop.set()
        await asyncio.gather(*servers)
        for r in readiness:
            await r.aclose()
    assert metrics.status_code == 200
    text = metrics.text
    missing = [name for name in METRIC_NAMES if f"# TYPE {name} " not in text]
    assert missing == []
