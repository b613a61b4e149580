"""Idempotency for mutations: key derivation, the store protocol, SQLite and Redis stores."""

from gateway.idempotency.keys import fingerprint, scope_key
from gateway.idempotency.store import (
    Claim,
    ClaimState,
    IdempotencyStore,
    IdempotencyStoreFullError,
)

__all__ = [
    "Claim",
    "ClaimState",
    "IdempotencyStore",
    "IdempotencyStoreFullError",
    "fingerprint",
    "scope_key",
]
