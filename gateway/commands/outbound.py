"""Records the commands role publishes: result events and dead letters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import GatewayError
from gateway.messages.headers import (
    CONTENT_TYPE,
    DLQ_ERROR_CLASS,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    DLQ_VALUE_OMITTED,
    SENDER,
    TRACEPARENT,
)
from gateway.messages.masking import mask_result_data
from gateway.messages.results import ErrorInfo, ResultData, result_event, result_event_bytes

__all__ = [
    "MAX_RECORD_BYTES",
    "Outbound",
    "RecordTooLargeError",
    "clip",
    "dead_letter",
    "record_bytes",
    "result_record",
    "sender_of",
    "traceparent_of",
]

Headers = list[tuple[str, bytes]]

# The producer refuses a record above ``max_request_size`` (1 MiB by default) and the broker one
# above ``message.max.bytes``; inside a transaction such a refusal aborts the whole batch, again
# on every retry, and the partition stalls. Every record built here stays below this bound.
MAX_RECORD_BYTES = 1_000_000
ECHO_MAX = 256  # how much of a string taken from the input a result repeats


class RecordTooLargeError(GatewayError, ValueError):
    """Even the compact form of a result does not fit in a record."""


def clip(text: str, limit: int = ECHO_MAX) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


@dataclass(frozen=True, slots=True)
class Outbound:
    """One record to publish."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


# W3C Trace Context: version-trace id-parent id-flags, lowercase hex; ids not all zero.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def traceparent_of(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The W3C trace context header of a record, if it has a well-formed one (a sender's
    garbage is not carried on to the result)."""
    for name, value in headers:
        if name.lower() == TRACEPARENT and value:
            text = value.decode("ascii", errors="replace")
            return text if _TRACEPARENT.fullmatch(text) else None
    return None


# What a sender id looks like (the ingress's key-<hash> or a configured sender name).
_SENDER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def sender_of(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The webhook sender a record came from, if the ingress stamped one (ill-formed: none)."""
    for name, value in headers:
        if name.lower() == SENDER and value:
            sender = value.decode("ascii", errors="replace")
            return sender if _SENDER_ID.fullmatch(sender) else None
    return None


def result_record(
    topic: str,
    key: bytes | None,
    data: ResultData,
    *,
    prefix: str,
    source: str,
    traceparent: str | None,
    sender: str | None = None,
) -> Outbound:
    """A result CloudEvent under the command's key, carrying its trace context and its
    webhook sender on; vendor secrets in the answer (a SIP account's password, a token) are
    masked first."""
    data = mask_result_data(data)
    event = result_event(data, prefix=prefix, source=source, traceparent=traceparent, sender=sender)
    headers: Headers = [(CONTENT_TYPE, b"application/cloudevents+json; charset=utf-8")]
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode("ascii")))
    if sender:
        headers.append((SENDER, sender.encode("ascii")))
    record = Outbound(topic, key, result_event_bytes(event), headers)
    if record_bytes(record) <= MAX_RECORD_BYTES:
        return record
    # Too large (a huge vendor answer or echoed input): keep the outcome, drop the bulk.
    compact = data.model_copy(
        update={
            "command_type": clip(data.command_type),
            "idempotency_key": clip(data.idempotency_key) if data.idempotency_key else None,
            "result": None,
            "error": ErrorInfo(
                error_class="ResultTooLarge",
                message=(
                    f"the result took {len(record.value)} bytes, over the {MAX_RECORD_BYTES}-byte"
                    " record limit; its body and error details were left out"
                ),
            ),
        }
    )
    event = result_event(
        compact, prefix=prefix, source=source, traceparent=traceparent, sender=sender
    )
    record = Outbound(topic, key, result_event_bytes(event), headers)
    if record_bytes(record) > MAX_RECORD_BYTES:
        raise RecordTooLargeError("even the compact result exceeds the record limit")
    return record


def record_bytes(record: Outbound) -> int:
    """What a record weighs against the size limits (key, value and headers)."""
    headers = sum(len(name) + len(value) for name, value in record.headers)
    return len(record.key or b"") + len(record.value) + headers


def dead_letter(
    topic: str,
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    reason: str,
    error_class: str,
    source_topic: str,
    partition: int,
    offset: int,
) -> Outbound:
    """The original bytes and headers, plus why and where from (no secret is ever added)."""
    kept: Headers = [(n, v) for n, v in headers if v is not None and not n.startswith("dlq-")]
    kept += [
        (DLQ_REASON, reason.encode("utf-8")),
        (DLQ_ERROR_CLASS, error_class.encode("utf-8")),
        (DLQ_SOURCE_TOPIC, source_topic.encode("utf-8")),
        (DLQ_SOURCE_PARTITION, str(partition).encode("ascii")),
        (DLQ_SOURCE_OFFSET, str(offset).encode("ascii")),
    ]
    record = Outbound(topic, key, value or b"", kept)
    if record_bytes(record) > MAX_RECORD_BYTES:
        # The original arrived within the broker's limit, but not with our headers added: the
        # source topic, partition and offset headers still point at the original bytes.
        kept.append((DLQ_VALUE_OMITTED, str(len(record.value)).encode("ascii")))
        record = Outbound(topic, key, b"", kept)
        if record_bytes(record) > MAX_RECORD_BYTES:
            record = Outbound(topic, None, b"", kept)
    return record
