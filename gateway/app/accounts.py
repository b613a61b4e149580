"""Vendor accounts from settings: a client each, holding the account's rate limiter."""

from __future__ import annotations

from contextvars import ContextVar

from redis.asyncio import Redis

from gateway.app.vendor import build_vendor_client
from gateway.commands.handler import Account
from gateway.ratelimit import (
    EndpointLimiter,
    EndpointLimits,
    InProcessEndpointLimiter,
    InProcessRateLimiter,
    RateLimiter,
    RedisEndpointLimiter,
    RedisRateLimiter,
    UnlimitedRateLimiter,
    endpoint_burst,
)
from gateway.settings import GatewaySettings, RateLimitSettings
from gateway.vendor_api.generated.endpoints import BY_PATH

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
    """The account's limiter, with its endpoints' sub-limits if any: shared through Redis when
    there is one, else in this process."""
    if not settings.enabled:
        return UnlimitedRateLimiter()
    rate = settings.rate_per_s * (1 - settings.safety_margin)
    burst = max(2, settings.burst - settings.burst_headroom)
    if redis is not None:
        account: RateLimiter = RedisRateLimiter(redis, name, rate, burst, settings.poller_share)
        return _with_endpoints(account, name, settings, burst, redis)
    shared = _shared.get()
    if shared is not None and name in shared:
        return shared[name]
    account = InProcessRateLimiter(rate, burst, settings.poller_share, borrow=_borrow.get())
    limiter = _with_endpoints(account, name, settings, burst, None)
    if shared is not None:
        shared[name] = limiter
    return limiter


def _with_endpoints(
    account: RateLimiter,
    name: str,
    settings: RateLimitSettings,
    account_burst: int,
    redis: Redis | None,
) -> RateLimiter:
    """``account`` with a sub-limit per configured endpoint (the same safety margin), if any."""
    if not settings.endpoints:
        return account
    # A misspelt path would limit nothing, silently: refuse to start instead.
    unknown = sorted(set(settings.endpoints) - set(BY_PATH))
    if unknown:
        raise ValueError(
            f"rate_limit.endpoints of account {name!r} names no vendor endpoint: {unknown}"
        )
    endpoints: dict[str, EndpointLimiter] = {}
    for path, rate_per_s in settings.endpoints.items():
        rate = rate_per_s * (1 - settings.safety_margin)
        burst = endpoint_burst(rate_per_s, account_burst, settings.burst_headroom)
        endpoints[path] = (
            InProcessEndpointLimiter(rate, burst)
            if redis is None
            else RedisEndpointLimiter(redis, name, path, rate, burst)
        )
    return EndpointLimits(account, endpoints)


def build_accounts(settings: GatewaySettings, redis: Redis | None) -> dict[str, Account]:
    """Every configured account by name ("default" is ``settings.vendor``)."""
    configured = {"default": settings.vendor, **settings.accounts}
    accounts = {}
    for name, vendor in configured.items():
        limiter = build_limiter(name, vendor.rate_limit, redis)
        accounts[name] = Account(name, build_vendor_client(vendor, limiter))
    return accounts
