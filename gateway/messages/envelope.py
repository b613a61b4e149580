"""The command envelope and how it is read off a Kafka record.

Three shapes are accepted (docs/topics.md): the plain JSON envelope; a structured CloudEvent
(``specversion`` in the JSON body); a binary-mode CloudEvent (``ce_*`` headers, the body is
``data``). Bytes from which no command id can be read raise :class:`NotAnEnvelopeError` (they go to
the DLQ: no result could be correlated); an envelope with an id but something wrong raises
:class:`InvalidEnvelopeError` (it gets a *rejected* result naming the fields and the reason).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.errors import GatewayError
from gateway.messages.headers import CE_PREFIX, CONTENT_TYPE

__all__ = [
    "MAX_JSON_DEPTH",
    "CommandEnvelope",
    "InvalidEnvelopeError",
    "NotAnEnvelopeError",
    "field_errors",
    "json_depth",
    "parse_command",
]

# How deeply a command's JSON may nest (objects and arrays). Vendor payloads nest a few levels;
# a document nested hundreds deep is an attack or a bug, and deeper than ~1,000 levels Python's
# json (and everything that walks the payload later) raises RecursionError: not an
# infrastructure fault to be retried, a bad record to be refused at once.
MAX_JSON_DEPTH = 64


# An RFC 3339 / ISO 8601 date and time. Pydantic alone would also take numbers and numeric
# strings ("-1") as Unix times: a producer bug that would then fail as an expired deadline.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_NOT_RFC3339 = "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-27T12:00:00Z"


class CommandEnvelope(BaseModel):
    """One command: what to do (type + payload), under which key, until when, on which account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, description="command id, unique per command")
    type: str = Field(min_length=1, max_length=128, description="command type, e.g. RoomCreate")
    payload: dict[str, Any] = Field(description="the endpoint's parameters, without token")
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=200, description="defaults to id"
    )
    deadline: datetime | None = Field(None, description="past it, the vendor is not called")
    account: str = Field(
        "default", min_length=1, max_length=128, description="which vendor account"
    )

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline_is_a_timestamp(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not _TIMESTAMP.match(value):
            raise ValueError(_NOT_RFC3339)
        return value

    @field_validator("deadline")
    @classmethod
    def _deadline_has_an_offset(cls, value: datetime | None) -> datetime | None:
        # RFC 3339 requires the offset. Without one, a deadline is an hour apart between a
        # reader that takes it as UTC and one that takes it as local time (Europe/Berlin):
        # refused, never guessed.
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"has no UTC offset; {_NOT_RFC3339}")
        return value

    @property
    def effective_idempotency_key(self) -> str:
        """The idempotency key, or the command id when none was given."""
        return self.idempotency_key or self.id

    @property
    def deadline_ts(self) -> float | None:
        """The deadline as a Unix time (``time.time()``), the one way every step reads it."""
        return None if self.deadline is None else self.deadline.timestamp()

    def expired(self, now: float | None = None) -> bool:
        """Whether the deadline has passed (at ``now``, a Unix time; default: now)."""
        deadline = self.deadline_ts
        return deadline is not None and (time.time() if now is None else now) >= deadline


class NotAnEnvelopeError(GatewayError):
    """Bytes that are not a command at all: no result can be correlated, so they go to the DLQ."""


class InvalidEnvelopeError(GatewayError):
    """A command with an id whose envelope is wrong: answered with a rejected result."""

    def __init__(
        self, command_id: str, reason: str, fields: list[dict[str, str]], raw: Mapping[str, Any]
    ):
        super().__init__(reason)
        self.command_id = command_id
        self.reason = reason
        self.fields = fields
        self.raw = raw


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as ``{"field": "payload.room_id", "reason": "Field required"}``."""
    return [
        {"field": prefix + ".".join(str(p) for p in err["loc"]), "reason": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def json_depth(document: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``document`` nests (a scalar is 0, ``[]`` and ``{}`` are 1), counted without
    recursion; stops counting at ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"


def _may_nest_too_deep(raw: bytes) -> bool:
    """Whether JSON text could nest deeper than the limit: each level opens with ``{`` or
    ``[``, so fewer of those than the limit (a count in C) spares walking the document."""
    return raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH


def _header_map(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        if value is not None:
            out[name.lower()] = value.decode("utf-8", errors="replace")
    return out


def _from_binary_cloudevent(value: bytes, headers: dict[str, str]) -> dict[str, Any]:
    attrs = {k.removeprefix(CE_PREFIX): v for k, v in headers.items() if k.startswith(CE_PREFIX)}
    try:
        data = json.loads(value) if value else {}
    except ValueError as exc:
        raise InvalidEnvelopeError(
            attrs["id"], "data is not JSON", [{"field": "data", "reason": str(exc)}], attrs
        ) from None
    except RecursionError:
        data, too_deep = None, True
    else:
        too_deep = _may_nest_too_deep(value) and json_depth(data) > MAX_JSON_DEPTH
    if too_deep:
        raise InvalidEnvelopeError(
            attrs["id"],
            f"data is JSON {_TOO_DEEP}",
            [{"field": "data", "reason": _TOO_DEEP}],
            attrs,
        )
    return _from_cloudevent({**attrs, "data": data})


def _from_cloudevent(event: Mapping[str, Any]) -> dict[str, Any]:
    command_id = event.get("id")
    if isinstance(command_id, str) and command_id and event.get("specversion") != "1.0":
        # Required by CloudEvents, and the one version read here: an event of another version
        # (or headers that only look like one) is refused, never guessed at.
        shallow = {k: v for k, v in event.items() if isinstance(v, str)}
        raise InvalidEnvelopeError(
            command_id,
            "not a CloudEvents 1.0 event",
            [{"field": "specversion", "reason": 'must be "1.0"'}],
            shallow,
        )
    # CloudEvents extension attributes carry the envelope's optional fields.
    out: dict[str, Any] = {
        "id": event.get("id"),
        "type": event.get("type"),
        "payload": event.get("data"),
    }
    for name in ("idempotency_key", "idempotencykey", "deadline", "account"):
        if name in event:
            out["idempotency_key" if name == "idempotencykey" else name] = event[name]
    return out


def parse_command(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]] = ()
) -> CommandEnvelope:
    """Read one command from a Kafka record's value and headers."""
    header_map = _header_map(headers)
    if f"{CE_PREFIX}id" in header_map:
        if not header_map[f"{CE_PREFIX}id"].strip():
            # No id, no correlation: a result could not be matched to anything.
            raise NotAnEnvelopeError("binary CloudEvent with an empty ce_id")
        raw = _from_binary_cloudevent(value or b"", header_map)
        document: Any = raw
    else:
        if not value:
            raise NotAnEnvelopeError("empty record value")
        try:
            body = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            raise NotAnEnvelopeError("value is not JSON") from None
        except RecursionError:
            # Too deep to parse at all, so no id to answer under: a dead letter, at once.
            raise NotAnEnvelopeError(f"value is JSON {_TOO_DEEP}") from None
        if not isinstance(body, dict):
            raise NotAnEnvelopeError("value is JSON but not an object")
        document = body
        is_ce = "specversion" in body or header_map.get(CONTENT_TYPE, "").startswith(
            "application/cloudevents"
        )
        raw = _from_cloudevent(body) if is_ce else body
    command_id = raw.get("id")
    if not isinstance(command_id, str) or not command_id:
        raise NotAnEnvelopeError("no command id")
    if _may_nest_too_deep(value or b"") and json_depth(document) > MAX_JSON_DEPTH:
        inner = MAX_JSON_DEPTH - 1
        fields = [
            {"field": str(name), "reason": _TOO_DEEP}
            for name, part in document.items()
            if json_depth(part, inner) > inner
        ]
        shallow = {k: v for k, v in raw.items() if isinstance(v, str)}
        raise InvalidEnvelopeError(command_id, f"command envelope {_TOO_DEEP}", fields, shallow)
    try:
        return CommandEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEnvelopeError(
            command_id, "invalid command envelope", field_errors(exc), raw
        ) from None
