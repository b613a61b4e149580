"""Putting an accepted command on the commands topic.

:class:`KafkaCommandPublisher` is where aiokafka's exceptions become :class:`UnavailableError`
(503), once. ``publish`` returns when the broker has acknowledged the record (``acks=all``,
idempotent producer) or raises after ``timeout_s``; after a time-out the record may still be
delivered later, which is harmless: the command id is its idempotency key by default, so a
resend by the caller is answered from the idempotency store and the vendor is called once.
Each send is a PRODUCER span whose W3C context (``traceparent``, ``tracestate``) goes on the
record's headers: the commands role continues the HTTP caller's trace from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from gateway.telemetry.tracing import inject_traceparent, producer_span
from gateway.webhooks.errors import UnavailableError

__all__ = ["CommandPublisher", "KafkaCommandPublisher"]

log = logging.getLogger("gateway.webhooks")


class CommandPublisher(Protocol):
    """Puts command records on the commands topic."""

    async def publish(
        self, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Return once the broker has the record; :class:`UnavailableError` otherwise."""


class KafkaCommandPublisher:
    """An aiokafka producer (started and stopped by the caller) bound to the commands topic."""

    def __init__(self, producer: Any, topic: str, timeout_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s

    async def publish(
        self, value: bytes, *, key: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Send and wait for the acknowledgement, at most ``timeout_s``."""
        try:
            with producer_span(self._topic):
                trace_headers = [(k, v.encode()) for k, v in inject_traceparent().items()]
                async with asyncio.timeout(self._timeout_s):
                    await self._producer.send_and_wait(
                        self._topic, value, key=key, headers=[*headers, *trace_headers]
                    )
        except (KafkaError, TimeoutError) as exc:
            log.warning("commands topic did not take a command: %s", type(exc).__name__)
            raise UnavailableError("Kafka did not take the command in time; retry") from None
