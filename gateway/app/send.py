"""`gateway send`: put one command on the commands topic and, optionally, wait for its result."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

from gateway.app.kafka import make_consumer, make_producer, start_client, topic_partitions
from gateway.app.topics import require_topics
from gateway.settings import GatewaySettings

__all__ = ["CONNECT_TIMEOUT_S", "build_envelope", "send_command"]

#: How long `gateway send` waits for a broker to answer before it gives up.
CONNECT_TIMEOUT_S = 15.0


def build_envelope(
    command_type: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    account: str | None = None,
    command_id: str | None = None,
) -> dict[str, Any]:
    """A plain JSON command envelope (docs/topics.md)."""
    envelope: dict[str, Any] = {
        "id": command_id or str(uuid.uuid4()),
        "type": command_type,
        "payload": payload,
    }
    if idempotency_key:
        envelope["idempotency_key"] = idempotency_key
    if account:
        envelope["account"] = account
    return envelope


async def send_command(
    settings: GatewaySettings,
    envelope: dict[str, Any],
    *,
    key: str | None,
    wait_s: float | None,
) -> dict[str, Any] | None:
    """Produce the envelope; with ``wait_s``, return the result event (or None on time-out).

    Raises :class:`~gateway.app.kafka.KafkaUnreachableError` when no broker answers and
    :class:`~gateway.app.topics.MissingTopicsError` when the commands topic (or, to wait, the
    results topic) does not exist: a producer would wait a minute for a missing topic."""
    kafka = settings.kafka
    needed = [kafka.commands_topic] + ([kafka.results_topic] if wait_s else [])
    await require_topics(kafka, needed, CONNECT_TIMEOUT_S)
    async with contextlib.AsyncExitStack() as stack:
        results = None
        if wait_s:
            # Position at the end of the results topic *before* sending, so the result
            # cannot slip by.
            results = make_consumer(kafka, client_id=f"{kafka.client_id}-send")
            await start_client(results, kafka, timeout_s=CONNECT_TIMEOUT_S)
            stack.push_async_callback(results.stop)
            partitions = await topic_partitions(results, kafka.results_topic, within_s=5.0)
            if not partitions:
                topic = kafka.results_topic
                raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
            results.assign(partitions)
            await results.seek_to_end(*partitions)
            for tp in partitions:
                await results.position(tp)
        producer = make_producer(kafka, client_id=f"{kafka.client_id}-send")
        await start_client(producer, kafka, timeout_s=CONNECT_TIMEOUT_S)
        try:
            record_key = key or envelope["payload"].get("room_id")
            await producer.send_and_wait(
                kafka.commands_topic,
                json.dumps(envelope).encode(),
                key=str(record_key).encode() if record_key is not None else None,
            )
        finally:
            await producer.stop()
        if results is None:
            return None
        return await _wait_for_result(results, envelope["id"], wait_s or 0)


async def _wait_for_result(consumer: Any, command_id: str, wait_s: float) -> dict[str, Any] | None:
    end = time.monotonic() + wait_s
    while (left := end - time.monotonic()) > 0:
        batch = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
        for records in batch.values():
            for record in records:
                event = json.loads(record.value)
                if event.get("data", {}).get("command_id") == command_id:
                    return dict(event)
    return None
