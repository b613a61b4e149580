"""Kafka clients from settings (security options in one place)."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from gateway.errors import GatewayError
from gateway.settings import KafkaSettings

__all__ = [
    "KafkaUnreachableError",
    "client_options",
    "make_admin",
    "make_consumer",
    "make_producer",
    "offsets_at",
    "start_client",
    "topic_partitions",
]


class KafkaUnreachableError(GatewayError):
    """No broker answered at the bootstrap servers."""

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        super().__init__(f"no Kafka broker answered at {bootstrap_servers} ({reason})")


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap, client id, TLS and SASL options shared by every client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


def make_producer(settings: KafkaSettings, *, client_id: str, **extra: Any) -> AIOKafkaProducer:
    """An idempotent producer (acks=all); pass ``transactional_id`` for transactions."""
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        **extra,
    )


def make_consumer(settings: KafkaSettings, *, client_id: str, **extra: Any) -> AIOKafkaConsumer:
    """A consumer that commits nothing by itself and reads only committed records."""
    return AIOKafkaConsumer(
        **client_options(settings),
        client_id=client_id,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        **extra,
    )


def make_admin(settings: KafkaSettings, *, timeout_s: float = 10.0) -> AIOKafkaAdminClient:
    """An admin client whose requests give up after ``timeout_s``."""
    return AIOKafkaAdminClient(
        **client_options(settings),
        client_id=f"{settings.client_id}-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )


Client: TypeAlias = AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient


async def start_client(client: Client, settings: KafkaSettings, *, timeout_s: float) -> None:
    """Start ``client``; when no broker answers within ``timeout_s``, close it again and raise
    :class:`KafkaUnreachableError` (aiokafka's own error names resolved addresses, not the
    setting)."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.start()
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        if isinstance(client, AIOKafkaAdminClient):
            await client.close()
        else:
            await client.stop()
        reason = (
            f"no answer within {timeout_s:g} s"
            if isinstance(exc, TimeoutError)
            else "no connection"
        )
        raise KafkaUnreachableError(settings.bootstrap_servers, reason) from exc


async def topic_partitions(
    consumer: AIOKafkaConsumer, topic: str, *, within_s: float = 0.0
) -> list[TopicPartition]:
    """Every partition of ``topic``, sorted; [] if the broker has no such topic (asked again
    every 0.1 s for ``within_s``). A consumer without a subscription knows no topic until
    its metadata is refreshed, which aiokafka offers no public call for."""
    deadline = time.monotonic() + within_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
        if found or time.monotonic() >= deadline:
            return [TopicPartition(topic, p) for p in sorted(found or ())]
        await asyncio.sleep(0.1)


async def offsets_at(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], at_ms: int | None
) -> dict[TopicPartition, int]:
    """Per partition, the first offset written at or after ``at_ms`` (Unix ms), else (and for
    None) its end. The ends are read first: a record written between the two questions is
    then at or after the offset given, never skipped."""
    ends = await consumer.end_offsets(partitions)
    if at_ms is None:
        return dict(ends)
    found = await consumer.offsets_for_times({tp: at_ms for tp in partitions})
    return {tp: hit.offset if (hit := found.get(tp)) else ends[tp] for tp in partitions}
