"""VendorClient behaviour against a scripted vendor: tokens, answers, errors, wire format."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.app.embedded_simulator import free_port
from gateway.vendor_api import VendorClient
from gateway.vendor_api.endpoint import UploadFile
from gateway.vendor_api.errors import (
    CredentialsError,
    RoomError,
    TokenInvalidError,
    UnknownCodeError,
    VendorAPIError,
    VendorConnectionError,
    VendorHTTPError,
    VendorProtocolError,
    VendorTimeoutError,
)
from gateway.vendor_api.generated.endpoints import device, live, participants, recording, room
from gateway.vendor_api.generated.endpoints import upload as upload_ep
from tests.unit.vendor_api.conftest import SLOW, ScriptedVendor
from tests.vendor_server import served, transport

MakeClient = Callable[..., VendorClient]


async def test_token_is_fetched_once_and_reused(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """Consecutive calls share one token."""
    client = make_client()
    for _ in range(3):
        await client.room_list(room.RoomListRequest())
    assert vendor.token_calls == 1
    await client.aclose()


async def test_concurrent_calls_on_expired_token_fetch_once(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """100 concurrent calls finding the token refused cause a single /app/get_token."""
    client = make_client()
    await client.room_list(room.RoomListRequest())
    vendor.valid_token = "rotated-by-vendor"  # every cached token is now refused with 40003
    results = await asyncio.gather(*(client.room_list(room.RoomListRequest()) for _ in range(100)))
    assert len(results) == 100
    assert vendor.token_calls == 2
    await client.aclose()


async def test_cold_start_concurrency_fetches_once(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """100 concurrent first calls share one token fetch."""
    client = make_client()
    await asyncio.gather(*(client.room_list(room.RoomListRequest()) for _ in range(100)))
    assert vendor.token_calls == 1
    await client.aclose()


async def test_refused_token_is_refreshed_once_then_error(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """A token refused even after a refresh surfaces as TokenInvalidError, not a loop."""
    vendor.handler = lambda path, params: {"ret": 40003, "msg": "access token check invalid"}
    client = make_client()
    with pytest.raises(TokenInvalidError) as info:
        await client.room_list(room.RoomListRequest())
    assert info.value.retryable is False
    assert vendor.token_calls == 2
    await client.aclose()


async def test_token_ttl_refreshes_proactively(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """With a TTL set, an old token is replaced before the vendor refuses it."""
    client = make_client(token_ttl_s=0.01)
    await client.room_list(room.RoomListRequest())
    await asyncio.sleep(0.02)
    await client.room_list(room.RoomListRequest())
    assert vendor.token_calls == 2
    await client.aclose()


async def test_bad_credentials_raise_credentials_error(make_client: MakeClient) -> None:
    """A refused secret key is a CredentialsError, not retryable."""
    client = make_client(secret="wrong")
    with pytest.raises(CredentialsError) as info:
        await client.room_list(room.RoomListRequest())
    assert info.value.code == 40001
    assert not info.value.retryable
    await client.aclose()


@pytest.mark.parametrize(
    ("answer", "expected_ret"),
    [
        ({"code": 200, "msg": "success"}, 0),
        ({"ret": 0, "msg": "success"}, 0),
        ({"user_count": 3}, 0),  # get_statistic's documented success has neither ret nor msg
    ],
)
async def test_success_variants_normalise_to_ret_zero(
    vendor: ScriptedVendor, make_client: MakeClient, answer: dict[str, Any], expected_ret: int
) -> None:
    """`code: 200`, `ret: 0` and an envelope-less answer all mean success."""
    vendor.handler = lambda path, params: answer
    client = make_client()
    result = await client.room_close(room.RoomCloseRequest(room_id="1"))
    assert result.ret == expected_ret
    await client.aclose()


async def test_code_variant_error_is_typed(vendor: ScriptedVendor, make_client: MakeClient) -> None:
    """`code: 40004` on a code-variant endpoint raises the room error with its documented text."""
    vendor.handler = lambda path, params: {"code": 40004, "msg": "no such room_id"}
    client = make_client()
    with pytest.raises(RoomError) as info:
        await client.participant_kick(participants.ParticipantKickRequest(room_id="1", user_id="u"))
    assert (info.value.code, info.value.group, info.value.documented) == (
        40004,
        "room",
        "no such room id",
    )
    await client.aclose()


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (41001, True),
        (41002, True),
        (41003, True),
        (41005, True),
        (40035, True),
        (40042, True),
        (40064, True),
        (40083, True),
        (40104, True),
        (40002, False),
        (40004, False),
        (40005, False),
        (40040, False),
        (40041, False),
        (10911, False),
        (12345, False),
    ],
)
async def test_retryable_classification(
    vendor: ScriptedVendor, make_client: MakeClient, code: int, retryable: bool
) -> None:
    """Only transient vendor codes are retryable; unknown codes keep their number and are not."""
    vendor.handler = lambda path, params: {"ret": code, "msg": "boom"}
    client = make_client()
    with pytest.raises(VendorAPIError) as info:
        await client.room_list(room.RoomListRequest())
    assert info.value.code == code
    assert info.value.retryable is retryable
    if code == 12345:
        assert isinstance(info.value, UnknownCodeError)
    await client.aclose()


@pytest.mark.parametrize(
    ("failure", "error", "retryable"),
    [
        (SLOW, VendorTimeoutError, True),
        ("refused", VendorConnectionError, True),
        (httpx.Response(503, text="down"), VendorHTTPError, True),
        (httpx.Response(429, text="slow down"), VendorHTTPError, True),
        (httpx.Response(404, text="nope"), VendorHTTPError, False),
        (httpx.Response(200, text="<html>"), VendorProtocolError, False),
    ],
)
async def test_transport_failures_are_translated(
    vendor: ScriptedVendor, make_client: MakeClient, failure: Any, error: type, retryable: bool
) -> None:
    """A slow answer, a refused connection and bad answers become vendor errors with the right
    retryable flag."""
    client = make_client(limits={"read_timeout_s": 0.2})
    if failure == "refused":
        await client.room_list(room.RoomListRequest())  # a token, then the vendor is gone
        await client.aclose()
        client = VendorClient(
            transport(f"http://127.0.0.1:{free_port()}"),
            access_key=SecretStr("demo_access"),
            secret_key=SecretStr("demo_secret"),
        )
    else:
        vendor.handler = lambda path, params: failure
    with pytest.raises(error) as info:
        await client.room_list(room.RoomListRequest())
    assert info.value.retryable is retryable
    # the aiohttp exception (whose text has the URL, and so maybe the token) is not chained
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    await client.aclose()


async def test_wire_format_post_form_with_serialised_json(
    vendor: ScriptedVendor, make_client: MakeClient
) -> None:
    """POST endpoints send a form body: bools as true/false, json-string params as JSON text."""
    client = make_client()
    await client.start_recording(
        recording.StartRecordingRequest(
            room_id="r1", enable_transcode=True, videos=[{"user_id": "u1", "x": 0}]
        )
    )
    path, params = vendor.calls[-1]
    assert path == "/room/mix_record/start"
    assert params["enable_transcode"] == "true"
    assert params["videos"] == '[{"user_id":"u1","x":0}]'
    assert "enable_audio_record" not in params  # vendor defaults are left to the vendor
    await client.aclose()


async def test_get_only_endpoint_uses_query_string(make_client: MakeClient) -> None:
    """`/room/mix_live/get` is GET-only, so its parameters travel in the query string."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/app/get_token"):
            return httpx.Response(200, json={"ret": 0, "token": "t"})
        return httpx.Response(200, json={"ret": 0, "msg": "success"})

    async with served(handler) as url:
        client = VendorClient(transport(url), access_key=SecretStr("a"), secret_key=SecretStr("b"))
        await client.live_get(live.LiveGetRequest(room_id="r1"))
        await client.aclose()
    assert seen[-1].method == "GET"
    assert seen[-1].url.path == "/sdkapi/v2/room/mix_live/get"
    assert seen[-1].url.params["room_id"] == "r1"
    assert seen[0].method == "POST"
    assert b"secret_key=b" in seen[0].content  # in the body, not the URL


async def test_upload_is_multipart_at_root(make_client: MakeClient) -> None:
    """`/uploadfile` is a multipart POST at the server root, not under /sdkapi/v2."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/app/get_token"):
            return httpx.Response(200, json={"ret": 0, "token": "t"})
        return httpx.Response(200, json={"ret": 0, "msg": "success", "download_url": "u"})

    async with served(handler) as url:
        client = VendorClient(transport(url), access_key=SecretStr("a"), secret_key=SecretStr("b"))
        answer = await client.file_upload(
            upload_ep.FileUploadRequest(file=UploadFile(filename="a.png", content=b"\x89PNG"))
        )
        await client.aclose()
    assert answer.download_url == "u"
    assert seen[-1].url.path == "/uploadfile"
    assert seen[-1].headers["content-type"].startswith("multipart/form-data")
    assert b"\x89PNG" in seen[-1].content


def test_request_models_reject_unknown_and_missing_fields() -> None:
    """Payload errors name the field: unknown ones and missing required ones."""
    with pytest.raises(Exception, match="roomid"):
        device.InviteDeviceRequest.model_validate({"room_id": "1", "uri": "sip:x", "roomid": "2"})
    with pytest.raises(Exception, match="uri"):
        device.InviteDeviceRequest.model_validate({"room_id": "1"})
    with pytest.raises(Exception, match="videos"):
        live.StartLiveRequest.model_validate(
            {"room_id": "1", "push_url": "rtmp://x", "videos": "{not json"}
        )
