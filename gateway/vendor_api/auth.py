"""The vendor token's lifecycle: obtain, cache, refresh on 40003, one fetch at a time.

The token is a request parameter (form field or query string), not a header, so an
``httpx.Auth`` flow would have to rebuild bodies; the client instead asks this provider for
the current token and reports a refused one. Single-flight: however many calls find the
token missing or refused at once, one ``/app/get_token`` is made and all of them share it.
The fetch is a vendor request like any other: it waits for a rate-limit slot on the budget
(lane and deadline) of the call that makes it, the one that found the token missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from gateway.ratelimit import UNHURRIED_COMMANDS, RequestBudget

__all__ = ["TokenProvider"]


class TokenProvider:
    """Caches the vendor token and refreshes it once per expiry, whatever the concurrency."""

    def __init__(
        self,
        fetch: Callable[[RequestBudget], Awaitable[str]],
        *,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s  # None: keep until the vendor refuses it (its lifetime is undocumented)
        self._clock = clock
        self._token: str | None = None
        self._expires_at = float("inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenProvider(cached={self._token is not None}, fetches={self.fetches})"

    def _fresh(self) -> str | None:
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        return None

    async def get(self, budget: RequestBudget = UNHURRIED_COMMANDS) -> str:
        """The current token, fetching one on ``budget`` if there is none or it has expired."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()  # another caller may have fetched it while we waited
            if token is not None:
                return token
            self.fetches += 1
            token = await self._fetch(budget)
            self._token = token
            self._expires_at = self._clock() + self._ttl_s if self._ttl_s else float("inf")
            return token

    def invalidate(self, refused: str) -> None:
        """Forget ``refused`` (the vendor said 40003), unless a newer token already replaced it."""
        if self._token == refused:
            self._token = None
