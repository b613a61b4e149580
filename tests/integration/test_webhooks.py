"""The webhook ingress end to end: real Kafka, Redis, the commands role and the simulator."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.app.embedded_simulator import free_port
from gateway.app.webhooks_role import run_webhooks_role, webhooks_app
from gateway.settings import GatewaySettings, VendorSettings, WebhookSettings
from gateway.webhooks.signature import signed_headers
from rigkit.topics import CommandTopics
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    read_records,
    read_results,
    running_gateway,
)

OLD_SECRET = "whsec_" + base64.b64encode(b"integration-old-secret-0123456789").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"integration-new-secret-0123456789").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-else-s-secret-0123456789").decode()


def webhook_settings(
    bootstrap: str,
    vendor_url: str,
    topics: CommandTopics,
    *,
    instance_id: str = "wh-1",
    redis_url: str | None = None,
    vendor: VendorSettings | None = None,
    **webhooks: Any,
) -> GatewaySettings:
    """The pipeline's test settings plus a webhooks section holding the old and new secret."""
    base = gateway_settings(
        bootstrap, vendor_url, topics, instance_id=instance_id, redis_url=redis_url
    )
    update: dict[str, Any] = {
        "webhooks": WebhookSettings.model_validate(
            {"secrets": [OLD_SECRET, NEW_SECRET], **webhooks}
        )
    }
    if vendor is not None:
        update["vendor"] = vendor
    return base.model_copy(update=update)


def signed(
    body: dict[str, Any] | bytes, secret: str = NEW_SECRET, **kw: Any
) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and its webhook-* headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, signed_headers(secret, raw, **kw)


@asynccontextmanager
async def in_process(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to an app in this process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield client


@asynccontextmanager
async def running_webhooks(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """The webhooks role served by uvicorn on its port; a client once /healthz answers."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_webhooks_role(settings, stop))
    base_url = f"http://127.0.0.1:{settings.webhooks.port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                if task.done():
                    task.result()
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.05)
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_only_valid_signatures_reach_kafka_and_replays_fail_across_replicas(
    kafka_bootstrap: str, redis_url: str, simulator_url: str
) -> None:
    """Valid and rotated: 202; wrong secret, tampering, old/future time: 401; replay on the other
    replica (shared Redis): 409; oversized: 413. Only the two valid commands are on Kafka."""
    topics = await make_topics(kafka_bootstrap, "webhooks-sig", partitions=2)
    common = {"redis_url": redis_url, "max_body_bytes": 2048}
    settings_a = webhook_settings(
        kafka_bootstrap, simulator_url, topics, instance_id="wh-a", **common
    )
    settings_b = webhook_settings(
        kafka_bootstrap, simulator_url, topics, instance_id="wh-b", **common
    )
    valid = envelope("RoomCreate", {"topic": "Signed", "room_id": "71000000001"})
    rotated = envelope("RoomCreate", {"topic": "Rotated", "room_id": "71000000002"})
    refused = [envelope("RoomRead", {"room_id": f"7100000001{i}"}) for i in range(6)]
    async with (
        webhooks_app(settings_a) as app_a,
        webhooks_app(settings_b) as app_b,
        in_process(app_a) as a,
        in_process(app_b) as b,
    ):

        async def post(client: httpx.AsyncClient, raw: bytes, headers: dict[str, str]) -> int:
            response = await client.post("/v1/commands", content=raw, headers=headers)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                if "webhook-signature" in headers:
                    assert headers["webhook-signature"] not in response.text
            return response.status_code

        raw_valid, headers_valid = signed(valid)
        assert await post(a, raw_valid, headers_valid) == 202
        assert await post(a, *signed(rotated, OLD_SECRET)) == 202
        assert await post(a, *signed(refused[0], OTHER_SECRET)) == 401
        raw, headers = signed(refused[1])
        assert await post(a, raw.replace(b"RoomRead", b"RoomDelete"), headers) == 401
        assert await post(a, *signed(refused[2], timestamp=int(time.time()) - 360)) == 401
        assert await post(b, *signed(refused[3], timestamp=int(time.time()) + 360)) == 401
        assert await post(b, raw_valid, headers_valid) == 409
        assert await post(a, raw_valid, headers_valid) == 409
        oversized = {**refused[4], "payload": {"topic": "x" * 3000}}
        assert await post(b, *signed(oversized)) == 413
        raw, headers = signed(refused[5])
        del headers["webhook-signature"]
        assert await post(b, raw, headers) == 401
    records = await read_records(kafka_bootstrap, topics.commands, 2, settle=1.5)
    on_kafka = {json.loads(r.value)["id"]: r.key for r in records}
    assert on_kafka == {valid["id"]: b"71000000001", rotated["id"]: b"71000000002"}


async def test_wait_returns_the_real_result_event_and_status_survives_a_restart(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Over a real socket: ?wait answers with the result the commands role published after the
    simulator created the room; GET knows it, also on a new webhooks process (read back)."""
    topics = await make_topics(kafka_bootstrap, "webhooks-wait")
    settings = webhook_settings(kafka_bootstrap, simulator_url, topics, port=free_port())
    command = envelope("RoomCreate", {"topic": "Via webhook", "room_id": "72000000001"})
    async with running_gateway(settings), running_webhooks(settings) as http:
        raw, headers = signed(command)
        response = await http.post("/v1/commands?wait=20", content=raw, headers=headers)
        assert response.status_code == 200, response.text
        event = response.json()
        status = (await http.get(f"/v1/commands/{command['id']}")).json()
        ready = await http.get("/readyz")
        metrics = (await http.get("/metrics")).text
    assert event["type"] == "avd.command.succeeded"
    assert event["data"]["command_id"] == command["id"]
    assert event["data"]["result"] == {"room_id": "72000000001"}
    assert status == {"id": command["id"], "status": "succeeded", "result": event}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": "ok", "vendor": "ok"}
    assert 'gateway_webhook_requests_total{route="/v1/commands",status="200"}' in metrics
    (published,) = await read_results(kafka_bootstrap, topics.results, 1)
    assert published == event
    calls = (await sim.get("/_sim/calls")).json()["calls"]
    assert calls.get("/room/create") == 1
    async with webhooks_app(settings) as fresh, in_process(fresh) as again:
        deadline = time.monotonic() + 10
        while (answer := await again.get(f"/v1/commands/{command['id']}")).status_code == 404:
            assert time.monotonic() < deadline, "the restarted replica did not read the result back"
            await asyncio.sleep(0.1)
        assert answer.json()["status"] == "succeeded"


async def test_wait_without_a_commands_role_is_202_and_readyz_reports_the_vendor(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """No result in time: 202 and status accepted; with refused vendor keys, readyz is 503."""
    topics = await make_topics(kafka_bootstrap, "webhooks-noresult")
    bad_vendor = VendorSettings(base_url=simulator_url, access_key="nobody", secret_key="wrong")
    settings = webhook_settings(kafka_bootstrap, simulator_url, topics, vendor=bad_vendor)
    command = envelope("RoomList", {})
    async with webhooks_app(settings) as app, in_process(app) as http:
        raw, headers = signed(command)
        response = await http.post("/v1/commands?wait=0.5", content=raw, headers=headers)
        assert response.status_code == 202
        status = (await http.get(response.headers["location"])).json()
        ready = await http.get("/readyz")
    assert status == {"id": command["id"], "status": "accepted", "result": None}
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["broker"] == "ok"
    assert checks["vendor"].startswith("failed: ")
    assert "wrong" not in ready.text
    assert "nobody" not in ready.text
    (record,) = await read_records(kafka_bootstrap, topics.commands, 1)
    assert json.loads(record.value) == command
