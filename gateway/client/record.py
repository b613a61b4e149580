"""The Kafka record of one command: its envelope, key and headers (docs/topics.md).

The one place that fills in what a producer of commands must: the command id, the
idempotency key and deadline when given, the key (the payload's ``room_id``, so that commands
on one room are done in order) and the W3C ``traceparent``.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.messages.headers import TRACEPARENT
from gateway.telemetry.tracing import inject_traceparent

__all__ = [
    "CommandRecord",
    "build_envelope",
    "command_record",
    "fresh_traceparent",
    "trace_headers",
]


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """What goes on the commands topic for one command."""

    envelope: dict[str, Any]
    key: bytes | None

    @property
    def value(self) -> bytes:
        """The record's value: the envelope as UTF-8 JSON."""
        return json.dumps(self.envelope).encode()

    @property
    def command_id(self) -> str:
        """The envelope's ``id``, which the result carries as ``data.command_id``."""
        return str(self.envelope["id"])


def build_envelope(
    command_type: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    account: str | None = None,
    command_id: str | None = None,
    deadline: datetime | None = None,
) -> dict[str, Any]:
    """A plain JSON command envelope; the fields not given are left to the gateway's defaults
    (idempotency key: the id; account: ``default``; no deadline)."""
    envelope: dict[str, Any] = {
        "id": command_id or str(uuid.uuid4()),
        "type": command_type,
        "payload": dict(payload),
    }
    if idempotency_key:
        envelope["idempotency_key"] = idempotency_key
    if deadline is not None:
        if deadline.utcoffset() is None:
            # The gateway refuses a deadline without an offset (it would be an hour apart
            # between readers); refused here already, where the caller sees it.
            raise ValueError("deadline has no UTC offset")
        envelope["deadline"] = deadline.isoformat().replace("+00:00", "Z")
    if account:
        envelope["account"] = account
    return envelope


def fresh_traceparent() -> str:
    """A new W3C trace context (sampled), for a command sent outside any span."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def command_record(envelope: Mapping[str, Any], *, key: str | None = None) -> CommandRecord:
    """The record of ``envelope``: keyed by ``key``, else by the payload's ``room_id`` (so
    that commands on one room are done in order), else unkeyed."""
    payload = envelope.get("payload") or {}
    chosen = key if key is not None else payload.get("room_id")
    return CommandRecord(
        envelope=dict(envelope), key=str(chosen).encode() if chosen is not None else None
    )


def trace_headers() -> list[tuple[str, bytes]]:
    """``traceparent`` (and ``tracestate``) of the current span, else a fresh trace: the
    gateway continues it on the result and in its logs. Call within the producer span."""
    carrier = inject_traceparent() or {TRACEPARENT: fresh_traceparent()}
    return [(name, value.encode()) for name, value in carrier.items()]
