"""Idempotency scope and payload fingerprint, fixed from the command before any retry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["fingerprint", "scope_key"]


def scope_key(account: str, idempotency_key: str) -> str:
    """Keys are scoped per vendor account (CONTRACT.md)."""
    return f"{account}\x1f{idempotency_key}"


def fingerprint(command_type: str, payload: Mapping[str, Any]) -> str:
    """A stable hash of what the command asks for: same key + other payload is a conflict."""
    canonical = json.dumps(
        {"type": command_type, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
