"""The Redis client every role shares the settings of (idempotency, rate limits, the webhook
replay guard, the poller's limiter): built in one place from ``GATEWAY_REDIS__*``."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.settings import GatewaySettings

__all__ = ["open_redis"]


def open_redis(settings: GatewaySettings) -> Redis | None:
    """The Redis client, when one is configured (the caller closes it)."""
    if settings.redis.url is None:
        return None
    password = settings.redis.password.get_secret_value() if settings.redis.password else None
    return Redis.from_url(settings.redis.url.get_secret_value(), password=password)
