"""The HTTP surface on in-memory fakes: statuses, problem bodies, wait, status, liveness;
signed and per-sender status queries, the failed-auth budget, body timeout, waiter cap."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from gateway.webhooks.signature import request_content, signed_headers
from tests.unit.webhooks.fakes import (
    NEW_SECRET,
    OLD_SECRET,
    Harness,
    build_harness,
    get_signed,
    quoted,
    result_for,
)

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
    status = await get_signed(client, response.headers["location"])
    assert status.json() == {"id": envelope["id"], "status": "accepted", "result": None}
    ((_, _, record_headers),) = harness.publisher.records
    assert ("gateway-sender", b"key-") < record_headers[0] < ("gateway-sender", b"key-~")


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
    assert body["detail"] == "the request is not signed by a known sender"
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
        assert_problem(await get_signed(http, "/v1/commands/x"), 429, "rate-limited")
    assert len(harness.publisher.records) == 2


async def test_wait_returns_the_result_event(client: httpx.AsyncClient, harness: Harness) -> None:
    """?wait: the result that arrives after publishing is answered with 200, and indexed."""
    loop = asyncio.get_running_loop()
    harness.publisher.on_publish = lambda value, headers: loop.call_later(
        0.05, harness.board.record, result_for(value, headers=headers)
    )
    envelope = command(room_id="5")
    raw, headers = signed(envelope)
    response = await client.post("/v1/commands?wait=2", content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["command_id"] == envelope["id"]
    status = (await get_signed(client, quoted(envelope["id"]))).json()
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
    assert_problem(await get_signed(client, "/v1/commands/nope"), 404, "not-found")
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    response = await client.delete("/v1/commands")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_only_the_api_and_healthz_are_on_the_api_port(client: httpx.AsyncClient) -> None:
    """/healthz answers; /readyz, /metrics and /openapi.json are on the ops port only (404 here).
    Fails on the old code, which served all three on the API port."""
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    for path in ("/readyz", "/metrics", "/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_odd_command_ids_round_trip(client: httpx.AsyncClient, harness: Harness) -> None:
    """Ids with non-Latin-1 characters or a slash get a valid Location that finds them."""
    for command_id in ("Āb/ç d", "a%2Fb"):
        envelope = {"id": command_id, "type": "RoomList", "payload": {}}
        raw, headers = signed(envelope)
        response = await client.post("/v1/commands", content=raw, headers=headers)
        assert response.status_code == 202
        status = await get_signed(client, response.headers["location"])
        assert status.json()["id"] == command_id
    metrics = generate_latest().decode()
    assert 'route="/v1/commands/{id}"' in metrics


# ---------------------------------------------------------------------------------------
# who may read what: signed status queries, one sender's commands only


async def test_status_query_without_a_valid_signature_is_a_generic_401(
    client: httpx.AsyncClient,
) -> None:
    """GET /v1/commands/{id} unsigned, signed for another path or with an unknown secret: the
    same 401 whatever failed. Fails on the old code (GET answered anyone)."""
    raw, headers = signed(command(room_id="1"))
    response = await client.post("/v1/commands", content=raw, headers=headers)
    location = response.headers["location"]
    wrong_path = signed_headers(NEW_SECRET, request_content("GET", "/v1/commands/other"))
    stranger = "whsec_" + "B" * 43 + "="
    answers = [
        await client.get(location),
        await client.get(location, headers=wrong_path),
        await get_signed(client, location, stranger),
        await get_signed(client, location, timestamp=int(time.time()) - 3600),
    ]
    for answer in answers:
        problem = assert_problem(answer, 401, "bad-signature")
        assert problem["detail"] == "the request is not signed by a known sender"
    assert (await get_signed(client, location)).status_code == 200


async def test_a_sender_reads_only_its_own_commands(client: httpx.AsyncClient) -> None:
    """Sender B (another secret) gets 404 for A's command, the same as for an unknown id;
    a signed GET's webhook-id is accepted once. Fails on the old code (anyone read anything)."""
    envelope = command(room_id="1")
    raw, headers = signed(envelope, NEW_SECRET)
    location = (await client.post("/v1/commands", content=raw, headers=headers)).headers["location"]
    theirs = await get_signed(client, location, OLD_SECRET)
    unknown = await get_signed(client, "/v1/commands/never-sent", OLD_SECRET)
    assert_problem(theirs, 404, "not-found")
    assert theirs.json() == unknown.json()
    again = signed_headers(NEW_SECRET, request_content("GET", location))
    assert (await client.get(location, headers=again)).status_code == 200
    assert_problem(await client.get(location, headers=again), 409, "replay")


async def test_a_reused_id_never_hands_one_senders_result_to_another(harness: Harness) -> None:
    """A and B both send command X and both wait: each is answered with its own result (the
    one carrying its sender), never the other's; each GET answers that sender's own. Fails on
    the old code, where B's ?wait received A's result."""
    loop = asyncio.get_running_loop()
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        envelope = command(room_id="1")
        published: list[dict[str, Any]] = []

        def answer_later(value: bytes, headers: list[tuple[str, bytes]]) -> None:
            # A's result comes first, while both wait; B's a little later, as "failed".
            status = "succeeded" if not published else "failed"
            published.append(result_for(value, status, headers=headers))
            loop.call_later(0.1 * len(published), harness.board.record, published[-1])

        harness.publisher.on_publish = answer_later
        raw_a, headers_a = signed(envelope, NEW_SECRET)
        raw_b, headers_b = signed(envelope, OLD_SECRET)
        a_waits = asyncio.create_task(
            http.post("/v1/commands?wait=2", content=raw_a, headers=headers_a)
        )
        await asyncio.sleep(0.02)
        b_answer = await http.post("/v1/commands?wait=2", content=raw_b, headers=headers_b)
        a_answer = await a_waits
        a_status = await get_signed(http, quoted(envelope["id"]), NEW_SECRET)
        b_status = await get_signed(http, quoted(envelope["id"]), OLD_SECRET)
    assert (a_answer.status_code, b_answer.status_code) == (200, 200)
    a_sender, b_sender = (p["sender"] for p in published)
    assert a_sender != b_sender
    assert (a_answer.json()["sender"], a_answer.json()["type"]) == (
        a_sender,
        "avd.command.succeeded",
    )
    assert (b_answer.json()["sender"], b_answer.json()["type"]) == (b_sender, "avd.command.failed")
    assert a_status.json()["status"] == "succeeded"
    assert b_status.json()["status"] == "failed"
    assert len(harness.publisher.records) == 2


async def test_a_result_without_a_sender_is_never_served(harness: Harness) -> None:
    """A result with no sender (a command put on Kafka directly, with an id a sender also
    used) is not served; a result of this sender's from another replica is. Fails on the old
    code (every result was served to anyone)."""
    value = json.dumps({"id": "foreign-1", "type": "RoomList"}).encode()
    assert harness.board.record(result_for(value, sender=None)) is False
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        assert_problem(await get_signed(http, "/v1/commands/foreign-1"), 404, "not-found")
        # The same id, now as this sender's command accepted by another replica.
        raw, headers = signed({"id": "foreign-1", "type": "RoomList", "payload": {}})
        await http.post("/v1/commands", content=raw, headers=headers)
        ((_, _, record_headers),) = harness.publisher.records
        harness.board.record(result_for(value, headers=record_headers))
        answer = await get_signed(http, "/v1/commands/foreign-1")
    assert answer.status_code == 200
    assert answer.json()["status"] == "succeeded"


# ---------------------------------------------------------------------------------------
# rate limits: failed authentication has its own small budget; signed senders their own


async def test_a_failed_auth_flood_does_not_throttle_a_signed_sender() -> None:
    """Unsigned requests from one address run out their small budget (429), while a signed
    sender from the same address still gets 202. Fails on the old code, where the unsigned
    flood used up the per-address budget the signed sender shared."""
    harness = build_harness(rate=100.0, burst=5, failed_rate=0.1, failed_burst=3)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        flood = []
        for _ in range(20):
            raw, headers = signed(command(), "whsec_" + "C" * 43 + "=")
            flood.append(
                (await http.post("/v1/commands", content=raw, headers=headers)).status_code
            )
        signed_codes = []
        for _ in range(5):
            raw, headers = signed(command())
            response = await http.post("/v1/commands", content=raw, headers=headers)
            signed_codes.append(response.status_code)
    assert flood[:3] == [401, 401, 401]
    assert set(flood[3:]) == {429}
    assert signed_codes == [202] * 5


async def test_senders_have_separate_budgets() -> None:
    """One sender past its burst gets 429; another sender (another secret) is unaffected."""
    harness = build_harness(rate=0.1, burst=2)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        codes = {}
        for secret in (NEW_SECRET, OLD_SECRET):
            codes[secret] = []
            for _ in range(3):
                raw, headers = signed(command(), secret)
                response = await http.post("/v1/commands", content=raw, headers=headers)
                codes[secret].append(response.status_code)
    assert codes == {NEW_SECRET: [202, 202, 429], OLD_SECRET: [202, 202, 429]}


async def test_named_sender_keeps_its_identity_across_rotated_secrets() -> None:
    """A sender of GATEWAY_WEBHOOKS__SENDERS with two secrets: a command sent with the old one
    is read back with the new one."""
    harness = build_harness(secrets=(), senders={"crm": [OLD_SECRET, NEW_SECRET]})
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        raw, headers = signed(command(), OLD_SECRET)
        location = (await http.post("/v1/commands", content=raw, headers=headers)).headers[
            "location"
        ]
        assert (await get_signed(http, location, NEW_SECRET)).status_code == 200
    ((_, _, record_headers),) = harness.publisher.records
    assert ("gateway-sender", b"crm") in record_headers


# ---------------------------------------------------------------------------------------
# server limits: body timeout, waiter cap


async def test_a_slow_body_is_408_within_the_body_timeout() -> None:
    """A body that trickles in is refused with 408 once the body timeout has passed. Fails
    on the old code, which waited for the body as long as the client kept the connection."""
    harness = build_harness(body_timeout_s=0.3)
    raw, headers = signed(command())

    async def trickle() -> AsyncIterator[bytes]:
        for i in range(len(raw)):
            yield raw[i : i + 1]
            await asyncio.sleep(0.1)

    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        started = time.monotonic()
        response = await http.post("/v1/commands", content=trickle(), headers=headers)
    assert_problem(response, 408, "request-timeout")
    assert time.monotonic() - started < 1.5
    assert harness.publisher.records == []


async def test_waiters_beyond_the_cap_are_answered_at_once() -> None:
    """With max_waiters waiting already, a further ?wait gets 202 at once (the command is on
    Kafka). Fails on the old code, which let any number of requests wait."""
    harness = build_harness(max_waiters=2, wait_max_s=5.0)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:

        async def post_waiting() -> httpx.Response:
            raw, headers = signed(command())
            return await http.post("/v1/commands?wait=1", content=raw, headers=headers)

        waiting = [asyncio.create_task(post_waiting()) for _ in range(2)]
        for _ in range(200):  # until both wait
            if harness.board.waiting == 2:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        third = await post_waiting()
        assert third.status_code == 202
        assert time.monotonic() - started < 0.5
        assert [r.status_code for r in await asyncio.gather(*waiting)] == [202, 202]
    assert len(harness.publisher.records) == 3
    assert harness.board.waiting == 0


async def test_client_address_from_x_forwarded_for_only_behind_a_trusted_proxy() -> None:
    """The failed-auth budget is keyed by the client address. A peer that is no trusted proxy
    cannot name a fresh address per request in X-Forwarded-For (ignored: all 429 after the
    first); behind a trusted proxy the right-most address that is no trusted proxy counts, so
    a left-most entry the caller made up does not help either. Fails on the old code, which
    read X-Forwarded-For from any peer with forwarded_allow_ips '*'."""
    harness = build_harness(failed_rate=0.001, failed_burst=1, trusted_proxies="10.0.0.0/8")

    async def codes(peer: str, forwarded: list[str]) -> list[int]:
        transport = httpx.ASGITransport(app=harness.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            out = []
            for value in forwarded:
                raw, headers = signed(command(), "whsec_" + "D" * 43 + "=")
                headers["x-forwarded-for"] = value
                response = await http.post("/v1/commands", content=raw, headers=headers)
                out.append(response.status_code)
            return out

    assert await codes("203.0.113.9", [f"198.51.100.{i}" for i in range(4)]) == [401] + [429] * 3
    assert await codes("10.0.0.5", [f"192.0.2.{i}, 10.0.0.7" for i in range(4)]) == [401] * 4
    spoofed = [f"192.0.2.{i}, 198.18.0.1" for i in range(10, 14)]
    assert await codes("10.0.0.5", spoofed) == [401] + [429] * 3
