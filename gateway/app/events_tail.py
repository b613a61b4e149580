"""`gateway events`: print the poller's change events as they are on Kafka, one JSON line each.

Reads the events topic with no consumer group (it commits nothing and moves no one's offsets),
from ``since_s`` seconds ago (Kafka's offsets-for-times) or from now, `read_committed` as a
consumer of the contract would, until ``max_events`` matching events were printed or nothing
arrived for ``wait_s`` seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from gateway.app.kafka import make_consumer, offsets_at, start_client, topic_partitions
from gateway.app.topics import MissingTopicsError
from gateway.settings import GatewaySettings

__all__ = ["tail_events"]


async def tail_events(
    settings: GatewaySettings,
    *,
    since_s: float | None,
    max_events: int | None,
    wait_s: float,
    types: frozenset[str] = frozenset(),
    emit: Callable[[str], None] = print,
) -> int:
    """Print matching events; return how many were printed. ``types`` are event types without
    the prefix (``room.opened``); empty: every type."""
    topic = settings.kafka.events_topic
    consumer = make_consumer(settings.kafka, client_id=f"{settings.kafka.client_id}-events")
    await start_client(consumer, settings.kafka, timeout_s=10.0)
    try:
        assigned = await topic_partitions(consumer, topic)
        if not assigned:
            raise MissingTopicsError([topic])
        consumer.assign(assigned)
        at_ms = None if since_s is None else int((time.time() - since_s) * 1000)
        # Sought to explicitly: a seek to "the end" that aiokafka resolves later, at the
        # first fetch, would skip what was written in between.
        for tp, offset in (await offsets_at(consumer, assigned, at_ms)).items():
            consumer.seek(tp, offset)
        printed = 0
        quiet_until = time.monotonic() + wait_s
        while max_events is None or printed < max_events:
            left = quiet_until - time.monotonic()
            if left <= 0:
                break
            batches = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batches.values():
                for record in records:
                    line = _matching(record.value, types)
                    if line is None:
                        continue
                    emit(line)
                    printed += 1
                    quiet_until = time.monotonic() + wait_s
                    if max_events is not None and printed >= max_events:
                        return printed
        return printed
    finally:
        await consumer.stop()


def _matching(value: bytes | None, types: frozenset[str]) -> str | None:
    try:
        event = json.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    event_type = str(event.get("type", ""))
    if types and event_type.split(".", 1)[-1] not in types:
        return None
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
