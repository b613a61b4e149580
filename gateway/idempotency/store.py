"""The idempotency store protocol.

A key moves through two states. ``claim`` makes the caller the owner of an *in-flight* key
for a lease; the owner calls the vendor, then ``complete`` stores the outcome (*done*) for the
retention period. Another caller meanwhile sees IN_FLIGHT and waits; after the outcome it sees
DONE (same fingerprint: replay it) or CONFLICT (other payload: reject). If the owner dies, its
lease lapses and the next claimer gets the key with ``reclaimed=True``: the vendor may or may
not have been called, so it reconciles before calling again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.errors import GatewayError

__all__ = ["Claim", "ClaimState", "IdempotencyStore", "IdempotencyStoreFullError"]


class IdempotencyStoreFullError(GatewayError):
    """The store has no room for a write (SQLite: the disk is full; Redis: ``maxmemory``
    reached under ``noeviction``). Nothing was written: a refused claim means the vendor is
    not called, and the record is tried again (``gateway.retry.processing_failures``) until
    there is room. The message starts with "idempotency store full:"."""

    retryable = True


class ClaimState(enum.Enum):
    """What ``claim`` found."""

    CLAIMED = "claimed"  # the caller owns the key now
    IN_FLIGHT = "in_flight"  # another owner holds a live lease
    DONE = "done"  # an outcome is stored for the same payload
    CONFLICT = "conflict"  # the key was used with a different payload


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer of ``claim``."""

    state: ClaimState
    outcome: dict[str, Any] | None = None
    reclaimed: bool = False
    owner: str | None = None


class IdempotencyStore(Protocol):
    """Where idempotency keys and outcomes live: SQLite (one instance) or Redis (replicas)."""

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        """Try to own ``key``; see the module docstring for the states."""
        ...

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        """Extend the owner's lease; False if the key is no longer ours."""
        ...

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        """Store the outcome for ``retention_s``; False if the key is no longer ours."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Give the key up without an outcome (the vendor was not called)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
