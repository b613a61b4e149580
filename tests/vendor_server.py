"""A scripted vendor served over real loopback HTTP (aiohttp's test server), for client tests.

The handler is written against httpx's request and response types (easy to build and read
in a test); the server turns each aiohttp request into an ``httpx.Request`` and the handler's
``httpx.Response`` back into an answer on the wire. A handler that raises
``ConnectionAbortedError`` has the connection dropped without an answer.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiohttp import web
from aiohttp.test_utils import RawTestServer

from gateway.settings import VendorSettings
from gateway.vendor_api import HttpLimits, VendorTransport

__all__ = ["Handler", "served", "transport"]

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

_HOP = {"content-length", "transfer-encoding", "host"}


@asynccontextmanager
async def served(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` on a free loopback port until the block ends; yields the base URL."""

    async def answer(request: web.BaseRequest) -> web.StreamResponse:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        body = await request.read()
        url = f"http://{request.host}{request.path_qs}"
        try:
            got = handler(httpx.Request(request.method, url, headers=headers, content=body))
            response = await got if inspect.isawaitable(got) else got
        except ConnectionAbortedError:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never sent: the connection is gone
        await response.aread()
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP}
        return web.Response(status=response.status_code, body=response.content, headers=kept)

    # No access log: it would print request URLs (and GET-only endpoints' tokens) into the
    # logs that the redaction tests search for leaks.
    server = RawTestServer(answer, host="127.0.0.1", port=0)
    await server.start_server(access_log=None)
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def transport(base_url: str, **limits: Any) -> VendorTransport:
    """A vendor transport on ``base_url`` with the default limits, ``limits`` overriding."""
    defaults = HttpLimits.from_settings(VendorSettings(base_url=base_url))
    fields = {name: getattr(defaults, name) for name in HttpLimits.__dataclass_fields__}
    return VendorTransport(base_url, HttpLimits(**(fields | limits)))
