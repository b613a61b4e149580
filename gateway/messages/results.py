"""Result events: one CloudEvent 1.0 (structured JSON) per command.

Written by hand rather than with the ``cloudevents`` SDK: a structured event is one JSON
object with five required attributes, and the SDK would add a dependency and a conversion
layer for what is ~30 lines here. The event id is derived from the command id, so a result
that is published again (after a crash) carries the same id and downstream can drop it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RESULT_NAMESPACE",
    "ErrorInfo",
    "ResultData",
    "Status",
    "VendorStatus",
    "result_event",
    "result_event_bytes",
]

RESULT_NAMESPACE = uuid.UUID("6f1c2a4e-8b1d-4a59-9a3e-3c1f0e6b7d21")
Status = Literal["succeeded", "failed", "rejected"]


class VendorStatus(BaseModel):
    """The vendor's result code and message, as it answered."""

    model_config = ConfigDict(frozen=True)

    ret: int = Field(description="the vendor's result code (0 is success)")
    msg: str | None = Field(None, description="the vendor's message")


class ErrorInfo(BaseModel):
    """Why a command failed or was rejected."""

    model_config = ConfigDict(frozen=True)

    error_class: str = Field(
        description="a stable name: the vendor error's class (RoomError, VendorTimeoutError...)"
        " or the gateway's reason (InvalidPayload, UnknownCommandType, DeadlineExpired...)"
    )
    message: str = Field(description="what went wrong, in words")
    code: int | None = Field(None, description="the vendor's error code, if it answered one")
    documented: str | None = Field(None, description="the code's meaning in the vendor's table")
    group: str | None = Field(None, description="the code's group in the vendor's table")
    retryable: bool = Field(
        False, description="a transient fault (the gateway retried it until it gave up)"
    )
    fields: list[dict[str, str]] | None = Field(
        None, description='rejected: which fields and why, [{"field": ..., "reason": ...}]'
    )
    details: dict[str, Any] | None = Field(
        None, description="the vendor's other answer fields, if any"
    )


class ResultData(BaseModel):
    """The ``data`` of a result event (docs/topics.md)."""

    model_config = ConfigDict(frozen=True)

    command_id: str = Field(description="the command's id")
    command_type: str = Field(description="the command's type (as far as it could be read)")
    idempotency_key: str | None = Field(description="the key the outcome is stored under")
    status: Status = Field(description="also the last part of the event's type")
    endpoint: str | None = Field(description="the vendor path called, or that would have been")
    vendor: VendorStatus | None = Field(None, description="the vendor's ret/msg, if it answered")
    result: dict[str, Any] | None = Field(
        None, description="succeeded: the vendor's answer without ret/msg (secrets masked)"
    )
    error: ErrorInfo | None = Field(None, description="failed or rejected: why")
    attempts: int = Field(0, description="vendor calls made")
    replayed: bool = Field(
        False, description="the stored outcome of an earlier command with the same key"
    )
    duration_ms: float = Field(0.0, description="milliseconds the gateway spent on the command")


_NAMESPACE_BYTES = RESULT_NAMESPACE.bytes


def result_event_id(command_id: str) -> str:
    """``str(uuid.uuid5(RESULT_NAMESPACE, command_id))``, the result's stable CloudEvents id
    (a redelivered command's result has the same one), without building a UUID object."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + command_id.encode()).digest()[:16])  # noqa: S324 - RFC 4122 version 5 is SHA-1 by definition
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def result_event(
    data: ResultData,
    *,
    prefix: str,
    source: str,
    traceparent: str | None = None,
    time: datetime | None = None,
    sender: str | None = None,
) -> dict[str, Any]:
    """The structured CloudEvent for one result."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": result_event_id(data.command_id),
        "source": source,
        "type": f"{prefix}.command.{data.status}",
        "subject": data.command_type,
        "time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data.model_dump(mode="json"),
    }
    if traceparent:
        event["traceparent"] = traceparent  # the distributed-tracing extension
    if sender:
        event["sender"] = sender  # extension: the webhook sender the command came from
    return event


def result_event_bytes(event: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (pydantic-core's serialiser: a few times faster than ``json``)."""
    return pydantic_core.to_json(event)
