"""An ingress app on in-memory fakes (no Kafka, no Redis): for route and fuzz tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.errors import UnavailableError
from gateway.webhooks.ingress import CommandIngress, IngressConfig
from gateway.webhooks.openapi import openapi_document
from gateway.webhooks.replay import InProcessReplayGuard
from gateway.webhooks.results import ResultBoard
from gateway.webhooks.routes import client_address_middleware, create_app
from gateway.webhooks.signature import Verifier, request_content, signed_headers

__all__ = [
    "NEW_SECRET",
    "OLD_SECRET",
    "FakePublisher",
    "Harness",
    "build_harness",
    "get_signed",
    "quoted",
    "result_for",
    "with_openapi",
]

OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-key-bytes-0123456789ab").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-key-bytes-0123456789ab").decode()


@dataclass
class FakePublisher:
    """Records what would go to Kafka; can be told to fail or to answer with a result."""

    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)
    fail: bool = False
    on_publish: Callable[[bytes, list[tuple[str, bytes]]], None] | None = None

    async def publish(
        self, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Keep the record, or raise like Kafka being away."""
        if self.fail:
            raise UnavailableError("Kafka did not take the command in time; retry")
        self.records.append((key, value, list(headers)))
        if self.on_publish is not None:
            self.on_publish(value, list(headers))


def result_for(
    value: bytes,
    status: str = "succeeded",
    sender: str | None = "a",
    headers: Sequence[tuple[str, bytes]] = (),
) -> dict[str, Any]:
    """A result event for the command in ``value``, as the commands role would publish it:
    with the record's ``gateway-sender`` (from ``headers`` if there is one, else ``sender``)."""
    command = json.loads(value)
    for name, header in headers:
        if name == "gateway-sender":
            sender = header.decode()
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "r-" + command["id"],
        "source": "/vendor-gateway",
        "type": f"avd.command.{status}",
        "subject": command["type"],
        "data": {
            "command_id": command["id"],
            "command_type": command["type"],
            "idempotency_key": command["id"],
            "status": status,
            "endpoint": "/room/create",
            "result": {"room_id": "1"},
        },
    }
    if sender is not None:
        event["sender"] = sender
    return event


@dataclass
class Harness:
    """The app and the fakes behind it."""

    app: Starlette
    publisher: FakePublisher
    board: ResultBoard
    replay: InProcessReplayGuard


def build_harness(
    *,
    secrets: Sequence[str] = (OLD_SECRET, NEW_SECRET),
    senders: Mapping[str, Sequence[str]] | None = None,
    max_body_bytes: int = 4096,
    rate: float = 1000.0,
    burst: int = 1000,
    failed_rate: float = 1000.0,
    failed_burst: int = 1000,
    wait_max_s: float = 2.0,
    max_waiters: int = 100,
    body_timeout_s: float = 10.0,
    trusted_proxies: str = "127.0.0.1",
) -> Harness:
    """An app whose Kafka is a :class:`FakePublisher` (each of ``secrets`` its own sender)."""
    publisher = FakePublisher()
    board = ResultBoard(100, max_waiters)
    replay = InProcessReplayGuard()
    ingress = CommandIngress(
        Verifier.from_senders(senders or {}, secrets),
        replay,
        publisher,
        board,
        ClientRateLimiter(rate, burst),
        IngressConfig(
            max_body_bytes=max_body_bytes, wait_max_s=wait_max_s, body_timeout_s=body_timeout_s
        ),
        failed_auth=ClientRateLimiter(failed_rate, failed_burst),
    )
    app = create_app(ingress, middleware=[client_address_middleware(trusted_proxies)])
    return Harness(app, publisher, board, replay)


def with_openapi(app: Starlette) -> ASGIApp:
    """``app`` plus ``/openapi.json`` (the API itself does not serve it), for schemathesis;
    every other request goes to ``app`` as it is."""
    document = JSONResponse(openapi_document())

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.json":
            await document(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


async def get_signed(
    client: httpx.AsyncClient, path: str, secret: str = NEW_SECRET, **kw: Any
) -> httpx.Response:
    """``GET path`` signed by ``secret``'s sender (``path`` as sent: percent-encoded)."""
    headers = signed_headers(secret, request_content("GET", path), **kw)
    return await client.get(path, headers=headers)


def quoted(command_id: str) -> str:
    """The status path of ``command_id``."""
    return "/v1/commands/" + quote(command_id, safe="")
