"""The simulator's request log: the ring, redaction, what the middleware records."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.simulator.config import FaultConfig
from gateway.simulator.faults import FaultInjector, FaultMiddleware
from gateway.simulator.requestlog import (
    MAX_PARSED_ANSWER,
    RequestLog,
    is_secret,
    multipart_field_names,
    pick_headers,
    request_params,
    vendor_ret,
)
from gateway.simulator.scenario_faults import fault_routes


def _fields(path: str = "/room/read", ret: int | None = 0) -> dict[str, Any]:
    return {
        "ts": 1.0,
        "mono": 2.0,
        "method": "GET",
        "path": path,
        "params": {},
        "client": None,
        "headers": {},
        "status": 200,
        "ret": ret,
        "duration_ms": 1.0,
        "fault": None,
        "over_limit": False,
    }


async def _echo_form(request: Request) -> JSONResponse:
    """A fake vendor endpoint answering what it received, so replay can be checked."""
    async with request.form() as form:  # closes uploaded files' temporary storage
        got = {k: v if isinstance(v, str) else v.filename for k, v in form.items()}
    return JSONResponse({"ret": 0, "msg": "success", "got": got})


async def _close(request: Request) -> JSONResponse:
    return JSONResponse({"code": 200, "msg": "success"})


async def _big(request: Request) -> Response:
    padding = "x" * (MAX_PARSED_ANSWER + 10)
    return Response(json.dumps({"ret": 7, "pad": padding}), media_type="application/json")


async def _plain(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.fixture
async def vendor_sim() -> AsyncIterator[tuple[httpx.AsyncClient, FaultInjector]]:
    """A client of a fake vendor wrapped in the fault middleware (no faults)."""
    injector = FaultInjector(FaultConfig())
    routes = [
        Route("/sdkapi/v2/room/close", _close, methods=["GET", "POST"]),
        Route("/sdkapi/v2/room/big", _big),
        Route("/sdkapi/v2/{path:path}", _echo_form, methods=["GET", "POST"]),
        Route("/uploadfile", _echo_form, methods=["POST"]),
        Route("/healthz", _plain),
        *fault_routes(injector),
    ]
    app = FaultMiddleware(Starlette(routes=routes), injector=injector)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4567))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client, injector


def test_ring_is_bounded_and_seq_keeps_counting() -> None:
    """Old entries fall off, and seq never repeats, not even after clear()."""
    log = RequestLog(maxlen=3)
    for _ in range(5):
        log.record(**_fields())
    assert [e.seq for e in log.entries()] == [3, 4, 5]
    log.clear()
    assert log.entries() == []
    assert log.record(**_fields()).seq == 6


def test_entries_filter_by_since_path_and_limit() -> None:
    """`since` is exclusive, `path` exact, `limit` caps the count, oldest first."""
    log = RequestLog(maxlen=10)
    for path in ["/a", "/b", "/a", "/b", "/a"]:
        log.record(**_fields(path))
    assert [e.seq for e in log.entries(since=2)] == [3, 4, 5]
    assert [e.seq for e in log.entries(path="/a")] == [1, 3, 5]
    assert [e.seq for e in log.entries(since=1, path="/a", limit=1)] == [3]
    assert log.entries(since=99) == []


def test_counts_outlive_the_ring_until_clear() -> None:
    """Per-path and per-(path, ret) counts include evicted entries; clear() resets them."""
    log = RequestLog(maxlen=1)
    log.record(**_fields("/a", 0))
    log.record(**_fields("/a", 41005))
    log.record(**_fields("/b", None))
    assert log.calls() == {"/a": 2, "/b": 1}
    assert log.rets() == {"/a": {0: 1, 41005: 1}, "/b": {None: 1}}
    log.clear()
    assert (log.calls(), log.rets()) == ({}, {})


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("token", True),
        ("access_key", True),
        ("secret_key", True),
        ("password", True),
        ("host_password", True),
        ("sip_Password", True),
        ("webhook_secret", True),
        ("room_id", False),
        ("topic", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    """Credential names and anything containing password/secret are secret."""
    assert is_secret(name) is secret


def test_params_merge_query_and_form_body_and_redact() -> None:
    """Query and urlencoded body both count (body wins) and secrets become ***."""
    params = request_params(
        b"token=abc&room_id=1",
        b"application/x-www-form-urlencoded; charset=utf-8",
        b"room_id=2&topic=Weekly+sync&password=pw",
    )
    assert params == {"token": "***", "room_id": "2", "topic": "Weekly sync", "password": "***"}


def test_params_skip_non_form_bodies() -> None:
    """A JSON body is not read; only the query string counts."""
    assert request_params(b"a=1", b"application/json", b'{"b": 2}') == {"a": "1"}


def test_multipart_fields_are_recorded_by_name_only() -> None:
    """Multipart field names are found; their values are never recorded."""
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="token"\r\n\r\nsecret-token\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\nBYTES\r\n--xyz--\r\n"
    )
    assert multipart_field_names(body) == ["token", "file"]
    params = request_params(b"", b"multipart/form-data; boundary=xyz", body)
    assert params == {"token": "***", "file": None}


def test_headers_subset() -> None:
    """Only user-agent, x-request-id, idempotency-key and traceparent are kept."""
    raw = [
        (b"user-agent", b"ua"),
        (b"x-request-id", b"r1"),
        (b"idempotency-key", b"k1"),
        (b"traceparent", b"00-abc-def-01"),
        (b"authorization", b"Bearer nope"),
        (b"cookie", b"c=1"),
    ]
    assert pick_headers(raw) == {
        "user-agent": "ua",
        "x-request-id": "r1",
        "idempotency-key": "k1",
        "traceparent": "00-abc-def-01",
    }


@pytest.mark.parametrize(
    ("body", "ret"),
    [
        (b'{"ret": 0, "msg": "success"}', 0),
        (b'{"code": 200, "msg": "success"}', 200),
        (b'{"ret": 40004, "code": 1}', 40004),
        (b'{"data": {}}', None),
        (b'{"ret": true}', None),
        (b'{"ret": "0"}', None),
        (b"[1, 2]", None),
        (b"not json", None),
        (b"{broken", None),
        (b"", None),
    ],
)
def test_vendor_ret(body: bytes, ret: int | None) -> None:
    """`ret`, else `code`, as an integer from a JSON object answer; None otherwise."""
    assert vendor_ret(body) == ret


def test_vendor_ret_skips_large_answers() -> None:
    """Answers over 64 KiB are not parsed."""
    assert vendor_ret(b'{"ret": 0, "pad": "' + b"x" * MAX_PARSED_ANSWER + b'"}') is None


async def test_middleware_logs_a_vendor_request(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """An entry holds method, vendor path, params, client, headers, status, ret and timing."""
    client, injector = vendor_sim
    answer = await client.post(
        "/sdkapi/v2/room/create?token=tok",
        data={"room_id": "42", "topic": "sync"},
        headers={"x-request-id": "req-1", "idempotency-key": "idem-1"},
    )
    assert answer.json()["got"] == {"room_id": "42", "topic": "sync"}  # body replayed
    (entry,) = injector.log.entries()
    assert entry.method == "POST"
    assert entry.path == "/room/create"
    assert entry.params == {"token": "***", "room_id": "42", "topic": "sync"}
    assert entry.client == "10.1.2.3:4567"
    assert entry.headers["x-request-id"] == "req-1"
    assert entry.headers["idempotency-key"] == "idem-1"
    assert (entry.status, entry.ret, entry.fault, entry.over_limit) == (200, 0, None, False)
    assert entry.duration_ms >= 0
    assert entry.ts > 1_600_000_000


async def test_credentials_never_reach_the_log(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """get_token's access and secret keys and SIP passwords are logged as ***."""
    client, injector = vendor_sim
    await client.post(
        "/sdkapi/v2/app/get_token", data={"access_key": "ak-123", "secret_key": "sk-456"}
    )
    await client.get("/sdkapi/v2/sip/account/create?token=t-789&sip_password=pw-000&name=n")
    dumped = json.dumps([e.to_dict() for e in injector.log.entries()])
    for secret in ("ak-123", "sk-456", "t-789", "pw-000"):
        assert secret not in dumped
    assert injector.log.entries()[1].params["name"] == "n"


async def test_multipart_upload_is_logged_by_field_name(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """An /uploadfile multipart request is logged with field names only and still served."""
    client, injector = vendor_sim
    answer = await client.post(
        "/uploadfile", data={"token": "t-1"}, files={"file": ("a.txt", b"file-bytes")}
    )
    assert answer.json()["got"]["token"] == "t-1"
    (entry,) = injector.log.entries()
    assert entry.path == "/uploadfile"
    assert entry.params == {"token": "***", "file": None}


async def test_code_answers_and_large_answers(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """`code` endpoints log their code as ret; answers over 64 KiB log ret None."""
    client, injector = vendor_sim
    await client.get("/sdkapi/v2/room/close")
    big = await client.get("/sdkapi/v2/room/big")
    assert big.json()["ret"] == 7  # the answer itself is untouched
    assert [e.ret for e in injector.log.entries()] == [200, None]


async def test_sim_and_other_paths_are_not_logged(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """/_sim/* and non-vendor paths pass through unlogged."""
    client, injector = vendor_sim
    assert (await client.get("/_sim/faults")).status_code == 200
    assert (await client.get("/healthz")).text == "ok"
    assert (await client.get("/_sim/requests")).json()["entries"] == []
    assert injector.log.last_seq == 0


async def test_double_slash_after_prefix_is_folded(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """The vendor's own `/sdkapi/v2//room/...` spelling logs as `/room/...`."""
    client, injector = vendor_sim
    await client.get("/sdkapi/v2//room/mix_live/start")
    assert injector.log.entries()[0].path == "/room/mix_live/start"


async def test_requests_route_pages_with_since_and_limit(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """GET /_sim/requests pages by seq, filters by path and says when there is more."""
    client, _ = vendor_sim
    for path in ["/room/read", "/room/list", "/room/read"]:
        await client.get(f"/sdkapi/v2{path}")
    page = (await client.get("/_sim/requests", params={"limit": 2})).json()
    assert [e["seq"] for e in page["entries"]] == [1, 2]
    assert (page["more"], page["last_seq"]) == (True, 3)
    rest = (await client.get("/_sim/requests", params={"since": 2})).json()
    assert [e["seq"] for e in rest["entries"]] == [3]
    assert rest["more"] is False
    reads = (await client.get("/_sim/requests", params={"path": "/room/read"})).json()
    assert [e["seq"] for e in reads["entries"]] == [1, 3]
    bad = await client.get("/_sim/requests", params={"since": "x"})
    assert bad.status_code == 422


async def test_calls_route_and_clearing(
    vendor_sim: tuple[httpx.AsyncClient, FaultInjector],
) -> None:
    """GET /_sim/calls counts per path and ret; DELETE /_sim/requests clears log and counts."""
    client, _ = vendor_sim
    await client.get("/sdkapi/v2/room/read")
    await client.get("/sdkapi/v2/room/close")
    await client.get("/sdkapi/v2/room/read")
    calls = (await client.get("/_sim/calls")).json()
    assert calls == {
        "total": 3,
        "calls": {"/room/read": 2, "/room/close": 1},
        "rets": {"/room/read": {"0": 2}, "/room/close": {"200": 1}},
    }
    cleared = (await client.delete("/_sim/requests")).json()
    assert cleared == {"cleared": 3, "last_seq": 3}
    assert (await client.get("/_sim/calls")).json()["total"] == 0
