"""`gateway dlq replay`: send dead letters back to the commands topic.

Records are read from the DLQ between two times (by Kafka timestamp, via offsets-for-times),
their ``dlq-*`` headers dropped, and produced again to the commands topic with the original
key, value and headers (a record whose value was too large to keep is counted as skipped:
its original is only at its source offset). Replaying is safe to repeat: a command's id is its
default idempotency key, so a command that already has an outcome is answered from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.app.kafka import make_consumer, make_producer, offsets_at, topic_partitions
from gateway.messages.headers import DLQ_VALUE_OMITTED
from gateway.settings import GatewaySettings

__all__ = ["ReplayReport", "replay_dead_letters"]


@dataclass
class ReplayReport:
    """What a replay did."""

    read: int = 0
    replayed: int = 0
    skipped: int = 0  # records whose value was too large to keep (dlq-value-omitted)
    reasons: dict[str, int] | None = None


async def _range(
    consumer: AIOKafkaConsumer, topic: str, since: datetime, until: datetime | None
) -> dict[TopicPartition, tuple[int, int]]:
    partitions = await topic_partitions(consumer, topic)
    starts = await offsets_at(consumer, partitions, int(since.timestamp() * 1000))
    stops = await offsets_at(consumer, partitions, int(until.timestamp() * 1000) if until else None)
    return {tp: (starts[tp], stops[tp]) for tp in partitions if starts[tp] < stops[tp]}


async def replay_dead_letters(
    settings: GatewaySettings,
    since: datetime,
    until: datetime | None = None,
    *,
    dry_run: bool = False,
    limit: int | None = None,
) -> ReplayReport:
    """Replay the DLQ records written in [since, until) to the commands topic."""
    kafka = settings.kafka
    consumer = make_consumer(kafka, client_id=f"{kafka.client_id}-dlq-replay")
    await consumer.start()
    producer = None if dry_run else make_producer(kafka, client_id=f"{kafka.client_id}-dlq-replay")
    if producer is not None:
        await producer.start()
    report = ReplayReport(reasons={})
    try:
        ranges = await _range(consumer, kafka.dlq_topic, since, until)
        consumer.assign(list(ranges))
        for tp, (start, _) in ranges.items():
            consumer.seek(tp, start)
        remaining = dict(ranges)
        while remaining and (limit is None or report.read < limit):
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= remaining.get(tp, (0, -1))[1] or (
                        limit is not None and report.read >= limit
                    ):
                        remaining.pop(tp, None)
                        break
                    report.read += 1
                    headers = [(k, v) for k, v in record.headers if not k.startswith("dlq-")]
                    reason = dict(record.headers).get("dlq-reason", b"?").decode("utf-8", "replace")
                    assert report.reasons is not None
                    report.reasons[reason] = report.reasons.get(reason, 0) + 1
                    if DLQ_VALUE_OMITTED in dict(record.headers):
                        # Nothing to replay: the original is only at its source offset.
                        report.skipped += 1
                    elif producer is not None:
                        await producer.send(
                            kafka.commands_topic, record.value, key=record.key, headers=headers
                        )
                        report.replayed += 1
                if (
                    tp in remaining
                    and consumer.highwater(tp) is not None
                    and (await consumer.position(tp)) >= remaining[tp][1]
                ):
                    remaining.pop(tp, None)
        if producer is not None:
            await producer.flush()
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    return report
