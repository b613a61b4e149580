"""Access tokens issued by ``/app/get_token``."""

from __future__ import annotations

import base64
from collections.abc import Callable

from .ids import IdFactory

__all__ = ["TokenStore"]

# Expired tokens are dropped when the table grows past this, so benchmarks that fetch many
# tokens do not grow memory without bound.
_PRUNE_ABOVE = 10_000


class TokenStore:
    """Issues tokens with a lifetime and checks them; all can be expired at once."""

    def __init__(self, ids: IdFactory, clock: Callable[[], float], ttl_s: float) -> None:
        self._ids = ids
        self._clock = clock
        self._ttl_s = ttl_s
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        """A new token valid for the configured lifetime."""
        # Shaped like the reference's tokens: base64 of a 40-hex digest (ends in "==").
        token = base64.b64encode(self._ids.hex(40).encode()).decode()
        now = self._clock()
        if len(self._expiry) > _PRUNE_ABOVE:
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
        self._expiry[token] = now + self._ttl_s
        return token

    def is_valid(self, token: str | None) -> bool:
        """True when ``token`` was issued and has not expired."""
        if not token:
            return False
        expiry = self._expiry.get(token)
        return expiry is not None and expiry > self._clock()

    def expire_all(self) -> int:
        """Expire every token (the vendor then answers 40003); returns how many were valid."""
        now = self._clock()
        valid = sum(1 for e in self._expiry.values() if e > now)
        self._expiry = dict.fromkeys(self._expiry, now)
        return valid

    def snapshot(self) -> dict[str, int]:
        """Counts only: token values never leave the simulator except from get_token."""
        now = self._clock()
        return {
            "issued": len(self._expiry),
            "valid": sum(1 for e in self._expiry.values() if e > now),
        }
