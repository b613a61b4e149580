"""The one results reader of a webhooks process: results topic -> :class:`ResultBoard`.

It reads with no consumer group (every replica reads every partition; nothing is committed)
and ``read_committed``, so it sees each result once its transaction commits. Before the
ingress accepts its first request, :func:`position_results` fixes the end of each partition:
every result produced after that is read, so a ``?wait`` can never miss its result. It then
steps back to read the most recent results again (``read_back``), to answer
``GET /v1/commands/{id}`` for commands finished shortly before this process started (each
result names its sender, so it is served to that sender only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from aiokafka import TopicPartition

from gateway.webhooks.results import ResultBoard

__all__ = ["follow_results", "position_results"]

log = logging.getLogger("gateway.webhooks")


async def _assigned(consumer: Any, topic: str, within_s: float = 10.0) -> list[TopicPartition]:
    # Without a group, aiokafka assigns every partition of a subscribed topic to this consumer
    # (and adds partitions created later, read from their beginning).
    consumer.subscribe([topic])
    deadline = asyncio.get_running_loop().time() + within_s
    while not (assigned := consumer.assignment()):
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"results topic {topic!r} has no partitions (does it exist?)")
        await asyncio.sleep(0.05)
    return sorted(assigned)


async def position_results(consumer: Any, topic: str, read_back: int = 0) -> None:
    """Take every partition of ``topic``, fix its end, then step back ``read_back`` in all."""
    partitions = await _assigned(consumer, topic)
    await consumer.seek_to_end(*partitions)
    ends = {tp: await consumer.position(tp) for tp in partitions}  # resolves the end now
    if read_back > 0:
        per_partition = math.ceil(read_back / len(partitions))
        starts = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(starts[tp], ends[tp] - per_partition))


async def follow_results(consumer: Any, board: ResultBoard, stop: asyncio.Event) -> None:
    """Feed every result event to ``board`` until ``stop``; a failing fetch is logged, retried."""
    while not stop.is_set():
        try:
            batch = await consumer.getmany(timeout_ms=200)
        except Exception as exc:
            log.warning("results reader: fetch failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1.0)
            continue
        for records in batch.values():
            for record in records:
                try:
                    event = json.loads(record.value)
                except (TypeError, ValueError):
                    log.debug("results reader: offset %s is not JSON; skipped", record.offset)
                    continue
                if isinstance(event, dict):
                    board.record(event)
