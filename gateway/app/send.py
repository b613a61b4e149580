"""`gateway send`: put one command on the commands topic and, optionally, wait for its result.

The work is :class:`gateway.client.Commands`' (envelope, key, trace context, result
correlation); this is its untyped use, for a type and a JSON payload from the command line.
"""

from __future__ import annotations

from typing import Any

from gateway.client.producer import CONNECT_TIMEOUT_S, Commands
from gateway.client.record import build_envelope
from gateway.settings import GatewaySettings

__all__ = ["CONNECT_TIMEOUT_S", "build_envelope", "send_command"]


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
    waits = bool(wait_s)
    async with Commands.connect(settings.kafka, results=waits) as commands:
        return await commands.send_envelope(envelope, key=key, wait=wait_s if waits else None)
