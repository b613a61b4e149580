"""Readiness of a `gateway run` process, the same for every role: the broker answers a
metadata request (check ``kafka``) and the vendor gives a token (check ``vendor``).

:func:`run_checks` runs named checks at once, each within its own timeout, and reports each
outcome by name: ``ok``, ``failed: <ErrorClass>`` or ``timed out``. Only the class name: an
error's message could carry a host name or a vendor message, and readiness bodies are public.
The ops endpoint (:mod:`gateway.app.ops_server`) serves the outcome as ``/readyz``.

The clients are made once and kept: a probe every few seconds must not fetch a new vendor
token each time (the token is cached until the vendor refuses it) nor open new connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiokafka.admin import AIOKafkaAdminClient

from gateway.app.kafka import client_options
from gateway.app.vendor import build_vendor_client
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.vendor_api import VendorClient

__all__ = ["CHECK_NAMES", "Readiness", "ReadinessCheck", "run_checks"]

ReadinessCheck = Callable[[], Awaitable[object]]  # raises when not ready

#: The checks of every role, by the name ``/readyz`` reports them under.
CHECK_NAMES = ("kafka", "vendor")


async def _outcome(check: ReadinessCheck, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except TimeoutError:
        return "timed out"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


async def run_checks(
    checks: Mapping[str, ReadinessCheck], timeout_s: float
) -> tuple[bool, dict[str, str]]:
    """(every check passed, outcome by name); the checks run at once, each within
    ``timeout_s``."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_outcome(checks[n], timeout_s) for n in names))
    report = dict(zip(names, outcomes, strict=True))
    return all(o == "ok" for o in outcomes), report


class Readiness:
    """The named checks for the ops endpoint, over long-lived clients."""

    def __init__(self, settings: GatewaySettings, limiter: RateLimiter | None = None) -> None:
        self._settings = settings
        self._limiter = limiter
        self._admin: AIOKafkaAdminClient | None = None
        self._vendor: VendorClient | None = None

    @property
    def checks(self) -> dict[str, ReadinessCheck]:
        """Every role needs the broker and the vendor (:data:`CHECK_NAMES`)."""
        return dict(zip(CHECK_NAMES, (self.broker, self.vendor), strict=True))

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
