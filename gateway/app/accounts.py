"""Vendor accounts from settings: a client each, holding the account's rate limiter."""

from __future__ import annotations

from contextvars import ContextVar

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

__all__ = ["build_accounts", "build_limiter", "share_limiters"]

# Set by `share_limiters`: the in-process limiters of this process's roles, by account name.
_shared: ContextVar[dict[str, RateLimiter] | None] = ContextVar("shared_limiters", default=None)
# Whether this process may borrow the other lane's idle slots (set by `share_limiters`).
_borrow: ContextVar[bool] = ContextVar("lane_borrowing", default=True)


def share_limiters(roles: list[str] | None = None) -> None:
    """From now on, roles started from this context (its tasks) share one in-process limiter
    per account: with commands and poller in one process, the vendor sees one budget.

    Without Redis, a process that runs only one of the commands and poller roles must keep
    to its own lane: the other lane's idle slots belong to another process, and borrowing
    them would let the two processes together exceed the account's rate.
    """
    _shared.set({})
    if roles is not None:
        _borrow.set("commands" in roles and "poller" in roles)


def build_limiter(name: str, settings: RateLimitSettings, redis: Redis | None) -> RateLimiter:
    """The account's limiter: shared through Redis when there is one, else in this process."""
    if not settings.enabled:
        return UnlimitedRateLimiter()
    rate = settings.rate_per_s * (1 - settings.safety_margin)
    burst = max(2, settings.burst - settings.burst_headroom)
    if redis is not None:
        return RedisRateLimiter(redis, name, rate, burst, settings.poller_share)
    shared = _shared.get()
    if shared is not None and name in shared:
        return shared[name]
    limiter = InProcessRateLimiter(rate, burst, settings.poller_share, borrow=_borrow.get())
    if shared is not None:
        shared[name] = limiter
    return limiter


def build_accounts(settings: GatewaySettings, redis: Redis | None) -> dict[str, Account]:
    """Every configured account by name ("default" is ``settings.vendor``)."""
    configured = {"default": settings.vendor, **settings.accounts}
    accounts = {}
    for name, vendor in configured.items():
        limiter = build_limiter(name, vendor.rate_limit, redis)
        accounts[name] = Account(name, build_vendor_client(vendor, limiter))
    return accounts
