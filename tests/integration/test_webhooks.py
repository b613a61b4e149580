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
from prometheus_client import generate_latest

from gateway.app.embedded_simulator import free_port
from gateway.app.webhooks_role import run_webhooks_role, webhooks_app
from gateway.settings import GatewaySettings, VendorSettings, WebhookSettings
from gateway.webhooks.signature import request_content, signed_headers
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


async def get_signed(
    client: httpx.AsyncClient, path: str, secret: str = NEW_SECRET
) -> httpx.Response:
    """``GET path`` signed by ``secret``'s sender."""
    return await client.get(path, headers=signed_headers(secret, request_content("GET", path)))


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


async def test_wait_returns_the_real_result_event_and_only_its_sender_reads_it(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Over a real socket: ?wait answers with the result the commands role published after the
    simulator created the room; a signed GET by the same sender knows it, an unsigned GET is
    401 and another sender's is 404; /readyz, /metrics and /openapi.json are not on this port.
    Another sender's command with the same id is its own command (its own vendor call, its own
    result, never a replay of the first). A new webhooks process reads the results back and
    serves each to its own sender."""
    topics = await make_topics(kafka_bootstrap, "webhooks-wait")
    settings = webhook_settings(kafka_bootstrap, simulator_url, topics, port=free_port())
    command = envelope("RoomCreate", {"topic": "Via webhook", "room_id": "72000000001"})
    path = f"/v1/commands/{command['id']}"
    async with running_gateway(settings), running_webhooks(settings) as http:
        raw, headers = signed(command)
        response = await http.post("/v1/commands?wait=20", content=raw, headers=headers)
        assert response.status_code == 200, response.text
        event = response.json()
        status = (await get_signed(http, path)).json()
        unsigned = await http.get(path)
        other_sender = await get_signed(http, path, OLD_SECRET)
        ops_paths = {
            p: (await http.get(p)).status_code for p in ("/readyz", "/metrics", "/openapi.json")
        }
        raw_b, headers_b = signed(command, OLD_SECRET)
        answer_b = await http.post("/v1/commands?wait=20", content=raw_b, headers=headers_b)
        assert answer_b.status_code == 200, answer_b.text
        event_b = answer_b.json()
        status_a_after = (await get_signed(http, path)).json()
    metrics = generate_latest().decode()
    assert event["type"] == "avd.command.succeeded"
    assert event["data"]["command_id"] == command["id"]
    assert event["data"]["result"] == {"room_id": "72000000001"}
    assert status == {"id": command["id"], "status": "succeeded", "result": event}
    assert unsigned.status_code == 401
    assert unsigned.json()["detail"] == "the request is not signed by a known sender"
    assert other_sender.status_code == 404
    assert ops_paths == {"/readyz": 404, "/metrics": 404, "/openapi.json": 404}
    assert 'gateway_webhook_requests_total{route="/v1/commands",status="200"}' in metrics
    # B's command with A's id: B's own (the room exists now, so the vendor refuses it).
    assert event_b["sender"] != event["sender"]
    assert event_b["data"]["command_id"] == command["id"]
    assert event_b["data"].get("replayed") is not True
    assert event_b["type"] == "avd.command.failed"
    assert status_a_after == status
    published = await read_results(kafka_bootstrap, topics.results, 2)
    assert published[0] == event
    records = await read_records(kafka_bootstrap, topics.commands, 2)
    assert dict(records[0].headers)["gateway-sender"] == event["sender"].encode()
    assert dict(records[1].headers)["gateway-sender"] == event_b["sender"].encode()
    calls = (await sim.get("/_sim/calls")).json()["calls"]
    assert calls.get("/room/create") == 2
    async with webhooks_app(settings) as fresh, in_process(fresh) as again:
        for _ in range(50):  # the results are read back in the background
            fresh_a = await get_signed(again, path)
            if fresh_a.status_code == 200:
                break
            await asyncio.sleep(0.2)
        fresh_b = (await get_signed(again, path, OLD_SECRET)).json()
        fresh_other = await get_signed(again, path, OTHER_SECRET)
    assert fresh_a.json() == status
    assert fresh_b["result"] == event_b
    assert fresh_other.status_code == 401  # not a sender of this gateway at all


async def test_wait_without_a_commands_role_is_202_and_accepted(
    kafka_bootstrap: str, simulator_url: str
) -> None:
    """No result in time: 202, and the sender's status query says accepted."""
    topics = await make_topics(kafka_bootstrap, "webhooks-noresult")
    settings = webhook_settings(kafka_bootstrap, simulator_url, topics)
    command = envelope("RoomList", {})
    async with webhooks_app(settings) as app, in_process(app) as http:
        raw, headers = signed(command)
        response = await http.post("/v1/commands?wait=0.5", content=raw, headers=headers)
        assert response.status_code == 202
        status = (await get_signed(http, response.headers["location"])).json()
    assert status == {"id": command["id"], "status": "accepted", "result": None}
    (record,) = await read_records(kafka_bootstrap, topics.commands, 1)
    assert json.loads(record.value) == command


async def test_a_slow_body_is_refused_within_the_body_timeout(
    kafka_bootstrap: str, simulator_url: str
) -> None:
    """Over a real socket, a client that sends its headers and then trickles the body gets
    408 about when the body timeout ends, not when it gives up. Fails on the old code."""
    topics = await make_topics(kafka_bootstrap, "webhooks-slowbody")
    settings = webhook_settings(
        kafka_bootstrap, simulator_url, topics, port=free_port(), body_timeout_s=1.0
    )
    raw, headers = signed(envelope("RoomList", {}))
    async with running_webhooks(settings):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.webhooks.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            (
                "POST /v1/commands HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n"
                f"content-length: {len(raw)}\r\n{head}\r\n"
            ).encode()
        )
        writer.write(raw[:5])
        await writer.drain()
        started = time.monotonic()

        async def trickle() -> None:
            for i in range(5, len(raw)):
                writer.write(raw[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.5)

        sending = asyncio.create_task(trickle())
        status_line = await asyncio.wait_for(reader.readline(), 10)
        elapsed = time.monotonic() - started
        sending.cancel()
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    assert 0.8 < elapsed < 3.0
