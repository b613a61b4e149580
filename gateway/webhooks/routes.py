"""The Starlette app of the webhooks role: the only module of the ingress that knows HTTP.

Routes stay thin: they read the request (client address, body bounded in size and time,
``wait``), call :class:`~gateway.webhooks.ingress.CommandIngress` and render its answer; every
refusal is a :class:`~gateway.webhooks.errors.WebhookError` rendered as
``application/problem+json`` by one handler, as are Starlette's own 404/405 and any unexpected
error (500, no details).

The API port serves the API and ``/healthz`` only: readiness, metrics and the OpenAPI
document are on the operations port (:mod:`gateway.app.ops_server`) or in the repository
(``schemas/openapi.json``). The client address is the peer, or the X-Forwarded-For entry a
trusted proxy names (the composition root adds uvicorn's ProxyHeadersMiddleware with the
configured proxy addresses); it keys only the budget of requests that fail authentication.

Telemetry: :class:`ObserveRequests`, the outermost middleware, makes one SERVER span per
request (continuing the caller's ``traceparent``; HTTP semantic conventions, the route
template rather than the path, so no command id lands in a span name) and counts
``gateway_webhook_requests_total{route, status}``. Further ``middleware`` from the
composition root goes inside it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.telemetry.metrics import WEBHOOK_REQUESTS
from gateway.telemetry.tracing import extract_context, span
from gateway.webhooks.errors import (
    BadRequestError,
    BodyTooLargeError,
    ClientRateLimitedError,
    RequestTimeoutError,
    UnavailableError,
    WebhookError,
    problem_details,
)
from gateway.webhooks.ingress import CommandIngress, Completed
from gateway.webhooks.signature import request_content

__all__ = ["ObserveRequests", "client_address_middleware", "create_app", "signed_path"]

log = logging.getLogger("gateway.webhooks")

PROBLEM_JSON = "application/problem+json"
_CONVERTOR = re.compile(r":\w+}")


def _problem_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(dict(body), status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


class ObserveRequests:
    """One SERVER span and one ``gateway_webhook_requests_total`` count per HTTP request."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self._app = app
        self._routes = routes

    def _template(self, scope: Scope) -> str:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and isinstance(route, Route):
                return _CONVERTOR.sub("}", route.path)  # /v1/commands/{id}, as documented
        return "other"  # a bounded label for every unknown path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        route, method = self._template(scope), scope["method"]
        headers = [(k.decode("latin-1"), v) for k, v in scope.get("headers", ())]
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with span(
            f"{method} {route}",
            context=extract_context(headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "url.path": scope["path"],  # the query (wait=) carries nothing of interest
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as current:
            try:
                await self._app(scope, receive, send_observed)
            finally:
                current.set_attribute("http.response.status_code", status)
                if status >= 500:
                    current.set_status(StatusCode.ERROR)
                WEBHOOK_REQUESTS.labels(route, str(status)).inc()


def client_address_middleware(forwarded_allow_ips: str) -> Middleware:
    """Takes the client address from X-Forwarded-For only when the peer is one of the proxies
    (IP addresses or CIDRs, comma-separated): uvicorn's ProxyHeadersMiddleware, which then
    takes the right-most address that is no trusted proxy. Empty: the peer is the client."""
    proxies = [p.strip() for p in forwarded_allow_ips.split(",") if p.strip()]
    return Middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signed_path(scope: Scope) -> str:
    """The path a GET signs: as in the request line (percent-encoded as sent), no query."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.split(b"?", 1)[0].decode("latin-1")
    return quote(str(scope["path"]), safe="/")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be above ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequestError("content-length is not a number")
        if int(declared) > limit:
            raise BodyTooLargeError(f"the body is above the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"the body is above the limit of {limit} bytes")
    return bytes(body)


async def _read_body_in_time(request: Request, limit: int, timeout_s: float) -> bytes:
    """:func:`_read_body`, refused with 408 if the body has not arrived within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(request, limit)
    except TimeoutError:
        raise RequestTimeoutError(
            f"the request body did not arrive within {timeout_s:g} s"
        ) from None


def create_app(ingress: CommandIngress, *, middleware: Sequence[Middleware] = ()) -> Starlette:
    """The ASGI app; its dependencies are built and closed by the composition root."""

    async def submit_command(request: Request) -> Response:
        wait_s = ingress.wait_seconds(request.query_params.get("wait"))
        config = ingress.config
        body = await _read_body_in_time(request, config.max_body_bytes, config.body_timeout_s)
        message = ingress.authenticate(request.headers, body, _client(request))
        outcome = await ingress.submit(body, message, wait_s)
        if isinstance(outcome, Completed):
            return JSONResponse(outcome.event, 200)
        # Command ids are any text: percent-encoded, the header stays Latin-1 and one segment.
        location = "/v1/commands/" + quote(outcome.command_id, safe="")
        return JSONResponse(outcome.as_json(), 202, headers={"Location": location})

    async def get_command(request: Request) -> Response:
        content = request_content("GET", signed_path(request.scope))
        message = ingress.authenticate(request.headers, content, _client(request))
        status = await ingress.status(message, request.path_params["id"])
        return JSONResponse(status.as_json())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def on_webhook_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebhookError)
        headers: dict[str, str] = {}
        if isinstance(exc, ClientRateLimitedError):
            headers["Retry-After"] = str(max(1, round(exc.retry_after_s + 0.5)))
        elif isinstance(exc, UnavailableError):
            headers["Retry-After"] = "1"
        if exc.status != 429:  # a flood of 429s is what the limit is for; not worth a line each
            log.info("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc)
        return _problem_response(problem_details(exc), exc.status, headers)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        body = {
            "type": "about:blank",
            "title": exc.detail,
            "status": exc.status_code,
            "detail": exc.detail,
        }
        return _problem_response(body, exc.status_code, exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "the gateway failed on this request; it is logged",
        }
        return _problem_response(body, 500)

    routes = [
        Route("/v1/commands", submit_command, methods=["POST"], name="submit_command"),
        # :path, so an id with a "/" (sent as %2F, decoded by the server) still matches.
        Route("/v1/commands/{id:path}", get_command, methods=["GET"], name="get_command"),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(ObserveRequests, routes=routes), *middleware],
        exception_handlers={
            WebhookError: on_webhook_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
