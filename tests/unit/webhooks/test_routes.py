"""The HTTP surface on in-memory fakes: statuses, problem bodies, wait, status, probes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.webhooks.openapi import openapi_document
from gateway.webhooks.signature import signed_headers
from tests.unit.webhooks.fakes import NEW_SECRET, OLD_SECRET, Harness, build_harness, result_for

PROBLEM = "application/problem+json"


def command(command_type: str = "RoomCreate", **payload: Any) -> dict[str, Any]:
    """A fresh plain envelope."""
    return {"id": f"c-{time.monotonic_ns()}", "type": command_type, "payload": payload}


def signed(
    body: dict[str, Any] | bytes, secret: str = NEW_SECRET, **kw: Any
) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and its webhook-* headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, signed_headers(secret, raw, **kw)


@pytest.fixture
def harness() -> Harness:
    """A fresh app on fakes."""
    return build_harness()


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the app in-process."""
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of ``status`` and type ``slug``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith(slug)
    assert body["detail"]
    return body


async def test_valid_command_is_published_with_room_id_key(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """202 with the id and a Location; the exact signed bytes go out keyed by room_id."""
    envelope = command(room_id="12345", topic="Weekly")
    raw, headers = signed(envelope)
    response = await client.post("/v1/commands", content=raw, headers=headers)
    assert response.status_code == 202
    assert response.json() == {"id": envelope["id"], "status": "accepted"}
    assert response.headers["location"] == f"/v1/commands/{envelope['id']}"
    assert [(k, v) for k, v, _ in harness.publisher.records] == [(b"12345", raw)]
    status = await client.get(response.headers["location"])
    assert status.json() == {"id": envelope["id"], "status": "accepted", "result": None}


async def test_explicit_key_is_taken_out_of_the_record(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """A top-level key becomes the Kafka key and is not part of the published envelope."""
    envelope = command(room_id="12345")
    raw, headers = signed({**envelope, "key": "tenant-7"})
    assert (await client.post("/v1/commands", content=raw, headers=headers)).status_code == 202
    ((key, value, _),) = harness.publisher.records
    assert key == b"tenant-7"
    assert json.loads(value) == envelope


async def test_rotated_secrets_both_pass_and_wrong_secret_fails(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """Old and new secret are accepted; another one is 401 and publishes nothing."""
    for secret in (OLD_SECRET, NEW_SECRET):
        raw, headers = signed(command(), secret)
        assert (await client.post("/v1/commands", content=raw, headers=headers)).status_code == 202
    raw, headers = signed(command(), "whsec_" + "A" * 43 + "=")
    response = await client.post("/v1/commands", content=raw, headers=headers)
    body = assert_problem(response, 401, "bad-signature")
    assert headers["webhook-signature"] not in response.text
    assert set(body) == {"type", "title", "status", "detail"}
    assert len(harness.publisher.records) == 2


@pytest.mark.parametrize("offset", [-301, 301])
async def test_stale_or_future_timestamp_is_401(
    client: httpx.AsyncClient, harness: Harness, offset: int
) -> None:
    """Signed correctly but outside the tolerance: 401, nothing published."""
    raw, headers = signed(command(), timestamp=int(time.time()) + offset)
    assert_problem(
        await client.post("/v1/commands", content=raw, headers=headers), 401, "bad-signature"
    )
    assert harness.publisher.records == []


async def test_tampered_body_is_401(client: httpx.AsyncClient, harness: Harness) -> None:
    """The signature is over the bytes: any change fails."""
    raw, headers = signed(command(room_id="1"))
    tampered = raw.replace(b'"1"', b'"2"')
    assert_problem(
        await client.post("/v1/commands", content=tampered, headers=headers), 401, "bad-signature"
    )
    assert harness.publisher.records == []


async def test_replayed_webhook_id_is_409(client: httpx.AsyncClient, harness: Harness) -> None:
    """The same signed request twice: the second is a replay."""
    raw, headers = signed(command())
    assert (await client.post("/v1/commands", content=raw, headers=headers)).status_code == 202
    assert_problem(await client.post("/v1/commands", content=raw, headers=headers), 409, "replay")
    assert len(harness.publisher.records) == 1


async def test_oversized_body_is_413_declared_or_streamed(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """Above the limit: 413 from Content-Length, and from the stream when none is declared."""
    big = command(topic="x" * 5000)
    raw, headers = signed(big)
    assert_problem(
        await client.post("/v1/commands", content=raw, headers=headers), 413, "body-too-large"
    )

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 1000):
            yield raw[i : i + 1000]

    response = await client.post("/v1/commands", content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "body-too-large")
    assert harness.publisher.records == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "RoomList", "payload": {}}', "no command id"),
        (b'{"id": "c", "type": "RoomList", "payload": {}, "key": 5}', "invalid key"),
    ],
)
async def test_not_an_envelope_is_422(
    client: httpx.AsyncClient, harness: Harness, body: bytes, reason: str
) -> None:
    """Bytes that are no envelope are refused with the reason, after a valid signature."""
    raw, headers = signed(body)
    problem = assert_problem(
        await client.post("/v1/commands", content=raw, headers=headers), 422, "invalid-envelope"
    )
    assert reason in problem["detail"]
    assert harness.publisher.records == []


async def test_invalid_envelope_lists_fields(client: httpx.AsyncClient, harness: Harness) -> None:
    """An envelope with an id but wrong fields: 422 naming each field, and it can be resent."""
    raw, headers = signed({"id": "c-1", "type": "", "payload": [], "extra": 1})
    problem = assert_problem(
        await client.post("/v1/commands", content=raw, headers=headers), 422, "invalid-envelope"
    )
    assert {e["field"] for e in problem["errors"]} == {"type", "payload", "extra"}
    assert harness.publisher.records == []


async def test_cloudevent_body_is_accepted(client: httpx.AsyncClient, harness: Harness) -> None:
    """A structured CloudEvent command is parsed like on Kafka; data.room_id is the key."""
    event = {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "/crm",
        "type": "RoomRead",
        "data": {"room_id": "9"},
    }
    raw, headers = signed(event)
    response = await client.post("/v1/commands", content=raw, headers=headers)
    assert response.json()["id"] == "ce-1"
    assert harness.publisher.records[0][0] == b"9"


async def test_kafka_unavailable_is_503_and_the_resend_passes(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """503 with Retry-After when Kafka does not take it; the same signed request passes later."""
    raw, headers = signed(command())
    harness.publisher.fail = True
    response = await client.post("/v1/commands", content=raw, headers=headers)
    assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"
    harness.publisher.fail = False
    assert (await client.post("/v1/commands", content=raw, headers=headers)).status_code == 202


async def test_client_over_its_rate_is_429() -> None:
    """Past the burst the client is refused with Retry-After until its rate allows again."""
    harness = build_harness(rate=1.0, burst=2)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        codes = []
        for _ in range(3):
            raw, headers = signed(command())
            response = await http.post("/v1/commands", content=raw, headers=headers)
            codes.append(response.status_code)
        assert codes == [202, 202, 429]
        assert_problem(response, 429, "rate-limited")
        assert int(response.headers["retry-after"]) >= 1
        assert_problem(await http.get("/v1/commands/x"), 429, "rate-limited")
    assert len(harness.publisher.records) == 2


async def test_wait_returns_the_result_event(client: httpx.AsyncClient, harness: Harness) -> None:
    """?wait: the result that arrives after publishing is answered with 200, and indexed."""
    loop = asyncio.get_running_loop()
    harness.publisher.on_publish = lambda value: loop.call_later(
        0.05, harness.board.record, result_for(value)
    )
    envelope = command(room_id="5")
    raw, headers = signed(envelope)
    response = await client.post("/v1/commands?wait=2", content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["command_id"] == envelope["id"]
    status = (await client.get(f"/v1/commands/{envelope['id']}")).json()
    assert status["status"] == "succeeded"
    assert status["result"] == response.json()
    assert harness.board.waiting == 0


async def test_wait_without_result_is_202_in_time(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """No result within the wait: 202 after about that long; the wait is capped at wait_max_s."""
    raw, headers = signed(command())
    started = time.monotonic()
    response = await client.post("/v1/commands?wait=0.2", content=raw, headers=headers)
    assert response.status_code == 202
    assert 0.2 <= time.monotonic() - started < 1.5
    raw, headers = signed(command())
    started = time.monotonic()
    response = await client.post("/v1/commands?wait=1e9", content=raw, headers=headers)
    assert response.status_code == 202
    assert time.monotonic() - started < 3.0  # wait_max_s is 2 in the harness
    assert harness.board.waiting == 0


@pytest.mark.parametrize("wait", ["-1", "soon", "nan", "inf"])
async def test_bad_wait_is_400(client: httpx.AsyncClient, harness: Harness, wait: str) -> None:
    """A wait that is no number of seconds >= 0 is refused before anything is read."""
    raw, headers = signed(command())
    response = await client.post(f"/v1/commands?wait={wait}", content=raw, headers=headers)
    assert_problem(response, 400, "bad-request")
    assert harness.publisher.records == []


async def test_unknown_command_and_path_are_problem_404s(client: httpx.AsyncClient) -> None:
    """Unknown id, unknown path and wrong method all answer problem+json."""
    assert_problem(await client.get("/v1/commands/nope"), 404, "not-found")
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    response = await client.delete("/v1/commands")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_probes_metrics_and_openapi(client: httpx.AsyncClient, harness: Harness) -> None:
    """healthz alive; readyz 200 then 503 naming the failed check; metrics; the document."""
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.json() == {"status": "ready", "checks": {"broker": "ok", "vendor": "ok"}}
    harness.publisher.fail = True
    problem = assert_problem(await client.get("/readyz"), 503, "not-ready")
    assert problem["checks"]["broker"] == "failed: ConnectionError"
    assert "broker" in problem["detail"]
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'gateway_webhook_requests_total{route="/readyz",status="503"}' in metrics.text
    assert (await client.get("/openapi.json")).json() == openapi_document()


async def test_odd_command_ids_round_trip(client: httpx.AsyncClient, harness: Harness) -> None:
    """Ids with non-Latin-1 characters or a slash get a valid Location that finds them."""
    for command_id in ("Āb/ç d", "a%2Fb"):
        envelope = {"id": command_id, "type": "RoomList", "payload": {}}
        raw, headers = signed(envelope)
        response = await client.post("/v1/commands", content=raw, headers=headers)
        assert response.status_code == 202
        status = await client.get(response.headers["location"])
        assert status.json()["id"] == command_id
    metrics = (await client.get("/metrics")).text
    assert 'route="/v1/commands/{id}"' in metrics
