"""An ingress app on in-memory fakes (no Kafka, no Redis): for route and fuzz tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import make_asgi_app
from starlette.applications import Starlette

from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.errors import UnavailableError
from gateway.webhooks.ingress import CommandIngress, IngressConfig
from gateway.webhooks.openapi import openapi_document
from gateway.webhooks.replay import InProcessReplayGuard
from gateway.webhooks.results import ResultBoard
from gateway.webhooks.routes import create_app
from gateway.webhooks.signature import Verifier

__all__ = ["NEW_SECRET", "OLD_SECRET", "FakePublisher", "Harness", "build_harness", "result_for"]

OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-key-bytes-0123456789ab").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-key-bytes-0123456789ab").decode()


@dataclass
class FakePublisher:
    """Records what would go to Kafka; can be told to fail or to answer with a result."""

    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)
    fail: bool = False
    on_publish: Callable[[bytes], None] | None = None

    async def publish(
        self, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Keep the record, or raise like Kafka being away."""
        if self.fail:
            raise UnavailableError("Kafka did not take the command in time; retry")
        self.records.append((key, value, list(headers)))
        if self.on_publish is not None:
            self.on_publish(value)

    async def ready(self) -> None:
        """Fail while ``fail`` is set."""
        if self.fail:
            raise ConnectionError("broker away")


def result_for(value: bytes, status: str = "succeeded") -> dict[str, Any]:
    """A result event for the command in ``value``, as the commands role would publish it."""
    command = json.loads(value)
    return {
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
    max_body_bytes: int = 4096,
    rate: float = 1000.0,
    burst: int = 1000,
    wait_max_s: float = 2.0,
    ready: Callable[[], Awaitable[tuple[bool, dict[str, str]]]] | None = None,
) -> Harness:
    """An app whose Kafka is a :class:`FakePublisher`."""
    publisher = FakePublisher()
    board = ResultBoard(100)
    replay = InProcessReplayGuard()
    ingress = CommandIngress(
        Verifier.from_secrets(secrets),
        replay,
        publisher,
        board,
        ClientRateLimiter(rate, burst),
        IngressConfig(max_body_bytes=max_body_bytes, wait_max_s=wait_max_s),
    )

    async def readiness() -> tuple[bool, dict[str, str]]:
        ok = not publisher.fail
        return ok, {"broker": "ok" if ok else "failed: ConnectionError", "vendor": "ok"}

    app = create_app(ingress, ready or readiness, openapi_document(), metrics_app=make_asgi_app())
    return Harness(app, publisher, board, replay)
