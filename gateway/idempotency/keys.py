"""Idempotency scope and payload fingerprint, fixed from the command before any retry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["fingerprint", "scope_key"]


def scope_key(account: str, idempotency_key: str, sender: str | None = None) -> str:
    """Keys are scoped per vendor account (docs/topics.md), and per webhook sender for commands
    that came through the ingress (one sender cannot replay or block another's key)."""
    if sender:
        return f"{account}\x1f{sender}\x1e{idempotency_key}"
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
