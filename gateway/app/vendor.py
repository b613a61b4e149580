"""Building the vendor client from settings (the composition root's job)."""

from __future__ import annotations

from gateway.ratelimit import RateLimiter
from gateway.settings import VendorSettings
from gateway.vendor_api import HttpLimits, VendorClient, VendorTransport

__all__ = ["build_vendor_client"]


def build_vendor_client(
    settings: VendorSettings, limiter: RateLimiter | None = None, user_agent: str | None = None
) -> VendorClient:
    """A VendorClient on its own pooled HTTP session, configured from ``settings``."""
    if settings.access_key is None or settings.secret_key is None:
        raise ValueError(
            "vendor access_key and secret_key are not set (GATEWAY_VENDOR__ACCESS_KEY,"
            " GATEWAY_VENDOR__SECRET_KEY, or GATEWAY_ACCOUNTS__<NAME>__...): they have no defaults"
        )
    limits = HttpLimits.from_settings(settings)
    if user_agent is None:
        transport = VendorTransport(settings.base_url, limits)
    else:
        transport = VendorTransport(settings.base_url, limits, user_agent=user_agent)
    return VendorClient(
        transport,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        token_ttl_s=settings.token_ttl_s,
        limiter=limiter,
    )
