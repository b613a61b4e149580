"""Secrets never reach log records, exception messages or reprs, even from failing calls."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from gateway.redaction import redact_params, redact_text
from gateway.vendor_api import VendorClient
from gateway.vendor_api.errors import VendorError
from gateway.vendor_api.generated.endpoints import live, room, sip
from tests.unit.vendor_api.conftest import DROP, SLOW, ScriptedVendor

SECRETS = ("demo_access", "demo_secret", "tok-1", "tok-2", "sip-pa55word", "host-pa55")


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize(
    "failure",
    [
        DROP,
        SLOW,
        httpx.Response(500, text="token=tok-1 broke"),
        httpx.Response(200, text="not json token=tok-1"),
        {"ret": 40022, "msg": "no such account_id"},
        {"ret": 41005, "msg": "internal error"},
    ],
)
async def test_failing_calls_leak_no_secret(
    vendor: ScriptedVendor,
    make_client: Callable[..., VendorClient],
    caplog: pytest.LogCaptureFixture,
    failure: object,
) -> None:
    """Logs (aiohttp's included, at DEBUG), errors, tracebacks and reprs carry no secret."""

    vendor.handler = lambda path, params: failure  # type: ignore[assignment,return-value]
    caplog.set_level(logging.DEBUG)
    client = make_client(limits={"read_timeout_s": 0.2})
    request = sip.SipAccountUpdateRequest(
        account_id=1, name="n", password=SecretStr("sip-pa55word")
    )
    with pytest.raises(VendorError) as info:
        await client.sip_account_update(request)
    # a GET-only endpoint puts the token in the URL
    vendor.handler = lambda path, params: {"ret": 0, "msg": "success"}
    await client.live_get(live.LiveGetRequest(room_id="r"))
    await client.room_update(
        room.RoomUpdateRequest(room_id="r", host_password=SecretStr("host-pa55"))
    )
    rendered = "\n".join(
        [
            caplog.text,
            *(r.getMessage() for r in caplog.records),
            str(info.value),
            repr(info.value),
            "".join(traceback.format_exception(info.value)),
            repr(request),
            repr(client),
            repr(client.tokens),
            str(request.model_dump()),
        ]
    )
    assert any(
        "get_token" in r.getMessage() or "HTTP Request" in r.getMessage() for r in caplog.records
    )
    assert _leaks(rendered) == []
    await client.aclose()


def test_redact_helpers_mask_secret_names() -> None:
    """Parameter maps and URL-like text lose token, keys and passwords."""
    assert redact_params({"token": "t", "room_id": "1", "sip_password": "p"}) == {
        "token": "***",
        "room_id": "1",
        "sip_password": "***",
    }
    text = redact_text("GET /x?room_id=1&token=abc&secret_key=def host_password=ghi")
    assert "abc" not in text
    assert "def" not in text
    assert "ghi" not in text
    assert "room_id=1" in text
