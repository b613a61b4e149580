"""Waiting for the results of one's own commands on the results topic.

One ``read_committed`` consumer per client, assigned every partition of the results topic and
positioned at its end *before* the first waited command is produced, so no result can slip
by. A background task reads on and hands each result to whoever waits for its command id
(``data.command_id``); the results of other producers' commands are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiokafka import AIOKafkaConsumer

from gateway.app.kafka import make_consumer, start_client, topic_partitions
from gateway.settings import KafkaSettings

__all__ = ["ResultWatcher"]

# How long one fetch waits for records before the loop looks again.
_POLL_S = 0.5


class ResultWatcher:
    """The results of commands waited for, by command id."""

    def __init__(self, kafka: KafkaSettings, *, client_id: str, connect_timeout_s: float):
        self._kafka = kafka
        self._client_id = client_id
        self._connect_timeout_s = connect_timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def start(self) -> None:
        """Connect and position at the end of every results partition."""
        consumer = make_consumer(self._kafka, client_id=self._client_id)
        await start_client(consumer, self._kafka, timeout_s=self._connect_timeout_s)
        try:
            topic = self._kafka.results_topic
            partitions = await topic_partitions(consumer, topic, within_s=5.0)
            if not partitions:
                raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                # seek_to_end is lazy: asking the position makes it happen now, before any
                # command is sent.
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._reader = asyncio.create_task(self._read(consumer), name="gateway-client-results")

    async def stop(self) -> None:
        """Stop reading; whoever still waits gets a CancelledError."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._consumer is not None:
            await self._consumer.stop()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    def expect(self, command_id: str) -> asyncio.Future[dict[str, Any]]:
        """The future result event of ``command_id``; call before sending the command."""
        if self._reader is not None and self._reader.done():
            self._reader.result()  # the reader failed: raise its error here, not time out
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        """No longer wait for ``command_id`` (its result came, or the wait ended)."""
        self._waiting.pop(command_id, None)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=int(_POLL_S * 1000))
                for records in batch.values():
                    for record in records:
                        self._deliver(record.value)
        except Exception as exc:
            # Whoever waits learns why at once instead of waiting out the time-out.
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(exc)
            raise

    def _deliver(self, value: bytes | None) -> None:
        try:
            event = json.loads(value or b"")
            command_id = event["data"]["command_id"]
        except (ValueError, TypeError, KeyError):
            return  # not a result event: nothing anyone here waits for
        future = self._waiting.get(command_id)
        if future is not None and not future.done():
            future.set_result(event)
