"""A small test client that talks to the simulator the way a vendor client would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gateway.simulator import SimulatorSettings, create_app

__all__ = ["ROOT_PATHS", "VendorClient", "seeded_settings", "simulator"]

ROOT_PATHS = frozenset({"/uploadfile", "/attachment"})


def seeded_settings(**overrides: Any) -> SimulatorSettings:
    """Seeded settings in which device calls wait for the scenario API to answer them."""
    return SimulatorSettings(**({"seed": 7, "invite_answer_delay_s": None} | overrides))


def url_of(path: str) -> str:
    """The simulator URL of a vendor path."""
    return path if path in ROOT_PATHS else f"/sdkapi/v2{path}"


def encode(value: Any) -> str:
    """A parameter value as the vendor expects its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class VendorClient:
    """Vendor calls (form POST by default, with the current token) and scenario calls."""

    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app
        self.token = ""

    @property
    def state(self) -> Any:
        """The simulator's VendorState."""
        return self.app.state.vendor_state

    async def login(self) -> str:
        """Fetch a token with the default demo keys and keep it."""
        answer = await self.call(
            "/app/get_token", token=None, access_key="demo_access", secret_key="demo_secret"
        )
        self.token = answer["token"]
        return self.token

    async def raw(
        self, path: str, method: str = "POST", token: str | None = "", **params: Any
    ) -> httpx.Response:
        """The HTTP response of a vendor call (``token=None`` sends none)."""
        if token is not None:
            params["token"] = token or self.token
        form = {k: encode(v) for k, v in params.items() if v is not None}
        if method == "GET":
            return await self.http.get(url_of(path), params=form)
        return await self.http.request(method, url_of(path), data=form)

    async def call(
        self, path: str, method: str = "POST", token: str | None = "", **params: Any
    ) -> Any:
        """The JSON answer of a vendor call (which must be HTTP 200)."""
        response = await self.raw(path, method, token, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def sim(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A scenario-API call (``path`` below ``/_sim``)."""
        return await self.http.request(method, f"/_sim{path}", json=body)


@asynccontextmanager
async def simulator(settings: SimulatorSettings | None = None) -> AsyncIterator[VendorClient]:
    """A logged-in VendorClient on a fresh simulator app, called in-process over ASGI."""
    app = create_app(settings or seeded_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        client = VendorClient(http, app)
        await client.login()
        yield client
