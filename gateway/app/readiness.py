"""Readiness of a `gateway run` process: the broker answers a metadata request (check
``kafka``) and the vendor gives a token (check ``vendor``), for every role; and, while a role
of the process needs topics (the commands and webhooks roles note theirs in
:data:`~gateway.app.topics.NEEDED_TOPICS`), that they exist (check ``topics``).

:func:`run_checks` runs named checks at once, each within its own timeout, and reports each
outcome by name: ``ok``, ``failed: <ErrorClass>`` or ``timed out``. Only the class name: an
error's message could carry a host name or a vendor message, and readiness bodies are public.
The ops endpoint (:mod:`gateway.app.ops_server`) serves the outcome as ``/readyz``.

The clients are made once and kept: a probe every few seconds must not fetch a new vendor
token each time (the token is cached until the vendor refuses it) nor open new connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping

from aiokafka.admin import AIOKafkaAdminClient

from gateway.app.kafka import make_admin
from gateway.app.topics import NEEDED_TOPICS, MissingTopicsError, NeededTopics, missing_topics
from gateway.app.vendor import build_vendor_client
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.vendor_api import VendorClient

__all__ = ["CHECK_NAMES", "TOPICS_CHECK", "Readiness", "ReadinessCheck", "run_checks"]

ReadinessCheck = Callable[[], Awaitable[object]]  # raises when not ready

#: The checks of every role, by the name ``/readyz`` reports them under.
CHECK_NAMES = ("kafka", "vendor")
#: The check added while a role of the process needs topics.
TOPICS_CHECK = "topics"


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


class _LiveChecks(Mapping[str, ReadinessCheck]):
    """The fixed checks, and ``topics`` while some role needs topics: read on every run,
    since ``gateway run`` hands the checks to the ops endpoint before its roles start."""

    def __init__(
        self, fixed: Mapping[str, ReadinessCheck], topics: ReadinessCheck, needed: NeededTopics
    ) -> None:
        self._fixed = fixed
        self._topics = topics
        self._needed = needed

    def _now(self) -> dict[str, ReadinessCheck]:
        return {**self._fixed, **({TOPICS_CHECK: self._topics} if self._needed.names() else {})}

    def __getitem__(self, name: str) -> ReadinessCheck:
        return self._now()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


class Readiness:
    """The named checks for the ops endpoint, over long-lived clients."""

    def __init__(
        self,
        settings: GatewaySettings,
        limiter: RateLimiter | None = None,
        needed: NeededTopics = NEEDED_TOPICS,
    ) -> None:
        self._settings = settings
        self._limiter = limiter
        self._needed = needed
        self._admin: AIOKafkaAdminClient | None = None
        self._admin_lock = asyncio.Lock()  # the checks run at once: one client for both
        self._vendor: VendorClient | None = None

    @property
    def checks(self) -> Mapping[str, ReadinessCheck]:
        """Every role needs the broker and the vendor (:data:`CHECK_NAMES`); ``topics``
        (:data:`TOPICS_CHECK`) joins them while a role of this process needs topics."""
        fixed: dict[str, ReadinessCheck] = dict(
            zip(CHECK_NAMES, (self.broker, self.vendor), strict=True)
        )
        return _LiveChecks(fixed, self.topics, self._needed)

    async def _admin_client(self) -> AIOKafkaAdminClient:
        async with self._admin_lock:
            if self._admin is None:
                admin = make_admin(self._settings.kafka, timeout_s=4.0)
                try:
                    await admin.start()
                except BaseException:  # also a probe's time-out: no client left open
                    await admin.close()
                    raise
                self._admin = admin
            return self._admin

    async def broker(self) -> None:
        """The broker answers a metadata request."""
        await (await self._admin_client()).list_topics()

    async def topics(self) -> None:
        """Every topic the roles of this process need exists."""
        missing = await missing_topics(await self._admin_client(), self._needed.names())
        if missing:
            raise MissingTopicsError(missing)

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
