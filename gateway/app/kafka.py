"""Kafka clients from settings (security options in one place)."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gateway.settings import KafkaSettings

__all__ = ["client_options", "make_consumer", "make_producer"]


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
