"""Readiness checks of a `gateway run` process: the broker answers, the vendor gives a token.

The clients are made once and kept: a probe every few seconds must not fetch a new vendor
token each time (the token is cached until the vendor refuses it) nor open new connections.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from gateway.app.kafka import client_options
from gateway.app.ops_server import ReadinessCheck
from gateway.app.vendor import build_vendor_client
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.vendor import VendorClient

__all__ = ["Readiness"]


class Readiness:
    """Named checks for the ops endpoint, over long-lived clients."""

    def __init__(self, settings: GatewaySettings, limiter: RateLimiter | None = None) -> None:
        self._settings = settings
        self._limiter = limiter
        self._admin: AIOKafkaAdminClient | None = None
        self._vendor: VendorClient | None = None

    @property
    def checks(self) -> dict[str, ReadinessCheck]:
        """Every role needs the broker and the vendor."""
        return {"kafka": self.broker, "vendor": self.vendor}

    async def broker(self) -> None:
        """The broker answers a metadata request."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                **client_options(self._settings.kafka), request_timeout_ms=4000
            )
            await admin.start()
            self._admin = admin
        await self._admin.list_topics()

    async def vendor(self) -> None:
        """A vendor token can be had (cached after the first success)."""
        if self._vendor is None:
            self._vendor = build_vendor_client(self._settings.vendor, self._limiter)
        await self._vendor.tokens.get()

    async def aclose(self) -> None:
        """Close the clients."""
        if self._admin is not None:
            await self._admin.close()
        if self._vendor is not None:
            await self._vendor.aclose()
