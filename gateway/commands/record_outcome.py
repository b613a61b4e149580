"""A command record in, the records to publish out: its result, or a dead letter.

The record is parsed (plain envelope, structured or binary CloudEvent); bytes that are no
envelope go to the dead-letter topic, an envelope that is wrong gets a rejected result, and a
command goes to the handler. The result is published under the command's key with the
caller's trace context and webhook sender carried on; a result too large even in its compact
form becomes a dead letter. All of it inside one "process" span per record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from opentelemetry.trace import SpanKind

from gateway.commands import results
from gateway.commands.handler import CommandHandler
from gateway.commands.outbound import (
    Outbound,
    RecordTooLargeError,
    dead_letter,
    result_record,
    sender_of,
    traceparent_of,
)
from gateway.messages.envelope import InvalidEnvelopeError, NotAnEnvelopeError, parse_command
from gateway.messages.results import ResultData
from gateway.telemetry.metrics import (
    COMMAND_ATTEMPTS,
    COMMANDS,
    DLQ,
    IDEMPOTENCY_REPLAYS,
    child,
)
from gateway.telemetry.tracing import (
    extract_context,
    inject_traceparent,
    producer_span,
    span,
    tracing_enabled,
)
from gateway.vendor_api import BY_COMMAND

__all__ = ["RecordOutcomes", "RecordTopics"]

log = logging.getLogger("gateway.commands")


@dataclass(frozen=True, slots=True)
class RecordTopics:
    """Where results and dead letters go, and how result events are named."""

    results_topic: str
    dlq_topic: str
    group_id: str  # the consumer group, named on the process span
    result_prefix: str
    source: str


class RecordOutcomes:
    """Turns one consumed command record into the records to publish for it."""

    def __init__(self, handler: CommandHandler, topics: RecordTopics) -> None:
        self._handler = handler
        self._topics = topics

    async def outcome(self, tp: TopicPartition, record: Any) -> list[Outbound]:
        """The result record (or dead letter) of one consumed record, in its process span."""
        headers = list(record.headers or ())
        with span(
            f"process {tp.topic}",
            context=extract_context(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": tp.topic,
                "messaging.destination.partition.id": str(tp.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self._topics.group_id,
            },
        ) as current:
            outbound = await self._traced_outcome(tp, record, headers)
            current.set_attribute("gateway.outcome", outbound[0].topic)
            return outbound

    async def _traced_outcome(
        self, tp: TopicPartition, record: Any, headers: list[tuple[str, bytes | None]]
    ) -> list[Outbound]:
        sender = sender_of(headers)
        try:
            command = parse_command(record.value, headers)
        except NotAnEnvelopeError as exc:
            log.warning("dead-lettering %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, exc)
            DLQ.labels("NotAnEnvelope").inc()
            return [self.dead_letter(tp, record, str(exc), "NotAnEnvelope")]
        except InvalidEnvelopeError as exc:
            result = results.invalid_envelope(exc)
        else:
            result = await self._handler.handle(command, sender=sender)
        _observe(result, record.key)
        topics = self._topics
        # The result's own span: its context travels on in the event and its headers.
        with producer_span(topics.results_topic):
            traceparent = (
                inject_traceparent().get("traceparent") if tracing_enabled() else None
            ) or traceparent_of(headers)
            try:
                return [
                    result_record(
                        topics.results_topic,
                        record.key,
                        result,
                        prefix=topics.result_prefix,
                        source=topics.source,
                        traceparent=traceparent,
                        sender=sender,
                    )
                ]
            except RecordTooLargeError as exc:
                DLQ.labels("ResultTooLarge").inc()
                return [self.dead_letter(tp, record, str(exc), "ResultTooLarge")]

    def dead_letter(
        self, tp: TopicPartition, record: Any, reason: str, error_class: str
    ) -> Outbound:
        """The record as it came, with why it could not be answered and where it came from."""
        return dead_letter(
            self._topics.dlq_topic,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            reason=reason,
            error_class=error_class,
            source_topic=tp.topic,
            partition=tp.partition,
            offset=record.offset,
        )


def _observe(result: ResultData, key: bytes | None) -> None:
    """One log line and the metrics of a finished command."""
    # Label only known types: the type comes from the message and could be anything.
    known = result.command_type if result.command_type in BY_COMMAND else "unknown"
    child(COMMANDS, known, result.status).inc()
    child(COMMAND_ATTEMPTS, known).observe(result.attempts)
    if result.replayed:
        child(IDEMPOTENCY_REPLAYS, known).inc()
    if not log.isEnabledFor(logging.INFO):
        return  # the line's fields are not even gathered
    log.info(
        "command %s %s",
        result.command_type,
        result.status,
        extra={
            "command_id": result.command_id,
            "command_type": result.command_type,
            "key": key.decode("utf-8", "replace") if key is not None else None,
            "status": result.status,
            "attempts": result.attempts,
            "duration_ms": result.duration_ms,
            "replayed": result.replayed,
            "error_class": result.error.error_class if result.error else None,
        },
    )
