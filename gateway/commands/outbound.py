"""Records the commands role publishes: result events and dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.messages.headers import (
    CONTENT_TYPE,
    DLQ_ERROR_CLASS,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    TRACEPARENT,
)
from gateway.messages.results import ResultData, result_event, result_event_bytes

__all__ = ["Outbound", "dead_letter", "result_record", "traceparent_of"]

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Outbound:
    """One record to publish."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


def traceparent_of(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The W3C trace context header of a record, if any."""
    for name, value in headers:
        if name.lower() == TRACEPARENT and value:
            return value.decode("ascii", errors="replace")
    return None


def result_record(
    topic: str,
    key: bytes | None,
    data: ResultData,
    *,
    prefix: str,
    source: str,
    traceparent: str | None,
) -> Outbound:
    """A result CloudEvent under the command's key, carrying its trace context on."""
    event = result_event(data, prefix=prefix, source=source, traceparent=traceparent)
    headers: Headers = [(CONTENT_TYPE, b"application/cloudevents+json; charset=utf-8")]
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode("ascii")))
    return Outbound(topic, key, result_event_bytes(event), headers)


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
    return Outbound(topic, key, value or b"", kept)
