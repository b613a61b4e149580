"""A scripted vendor served over loopback HTTP (``tests/vendor_server.py``), for client unit
tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr

from gateway.vendor_api import VendorClient
from tests.vendor_server import served, transport

Handler = Callable[[str, dict[str, str]], httpx.Response | dict[str, Any] | str]

SLOW = "slow"  # a handler's answer: the vendor takes a second to answer
DROP = "drop"  # a handler's answer: the vendor drops the connection without an answer


class ScriptedVendor:
    """Answers get_token with numbered tokens; other paths by a per-test handler."""

    def __init__(self) -> None:
        self.token_calls = 0
        self.valid_token = "tok-1"
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.handler: Handler = lambda path, params: {"ret": 0, "msg": "success"}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            params.update(parse_qsl(request.content.decode()))
        path = request.url.path.removeprefix("/sdkapi/v2")
        self.calls.append((path, params))
        if path == "/app/get_token":
            if params.get("secret_key") != "demo_secret":
                return httpx.Response(200, json={"ret": 40001, "msg": "Authenticate failed"})
            self.token_calls += 1
            self.valid_token = f"tok-{self.token_calls}"
            return httpx.Response(200, json={"ret": 0, "token": self.valid_token})
        if params.get("token") != self.valid_token:
            return httpx.Response(200, json={"ret": 40003, "msg": "access token check invalid"})
        answer = self.handler(path, params)
        if answer == DROP:
            raise ConnectionAbortedError
        if answer == SLOW:
            await asyncio.sleep(1.0)
            answer = {"ret": 0, "msg": "late"}
        assert not isinstance(answer, str)
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)


@pytest.fixture
def vendor() -> ScriptedVendor:
    """A fresh scripted vendor."""
    return ScriptedVendor()


@pytest.fixture
async def vendor_url(vendor: ScriptedVendor) -> AsyncIterator[str]:
    """The scripted vendor's base URL, served for the test."""
    async with served(vendor) as url:
        yield url


@pytest.fixture
def make_client(vendor_url: str) -> Callable[..., VendorClient]:
    """Build a VendorClient on the scripted vendor (``limits``: HttpLimits overrides)."""

    def make(
        secret: str = "demo_secret", limits: dict[str, Any] | None = None, **kwargs: Any
    ) -> VendorClient:
        return VendorClient(
            transport(vendor_url, **(limits or {})),
            access_key=SecretStr("demo_access"),
            secret_key=SecretStr(secret),
            **kwargs,
        )

    return make
