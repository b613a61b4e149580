"""Vendor accounts from settings: a client and a rate limiter each."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.app.vendor import build_vendor_client
from gateway.commands.handler import Account
from gateway.ratelimit import (
    InProcessRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    UnlimitedRateLimiter,
)
from gateway.settings import GatewaySettings, RateLimitSettings

__all__ = ["build_accounts", "build_limiter"]


def build_limiter(name: str, settings: RateLimitSettings, redis: Redis | None) -> RateLimiter:
    """The account's limiter: shared through Redis when there is one, else in this process."""
    if not settings.enabled:
        return UnlimitedRateLimiter()
    rate = settings.rate_per_s * (1 - settings.safety_margin)
    if redis is not None:
        return RedisRateLimiter(redis, name, rate, settings.burst, settings.poller_share)
    return InProcessRateLimiter(rate, settings.burst, settings.poller_share)


def build_accounts(settings: GatewaySettings, redis: Redis | None) -> dict[str, Account]:
    """Every configured account by name ("default" is ``settings.vendor``)."""
    configured = {"default": settings.vendor, **settings.accounts}
    accounts = {}
    for name, vendor in configured.items():
        limiter = build_limiter(name, vendor.rate_limit, redis)
        accounts[name] = Account(name, build_vendor_client(vendor, limiter), limiter)
    return accounts
