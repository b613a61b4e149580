"""``docs/chaos.md`` has two parts, each written by its own run: the audit of the last full
chaos run (``make chaos``) and the last hour-long soak (``make soak``). Each run replaces its
part and keeps the other."""

from __future__ import annotations

from pathlib import Path

from chaos.services import ROOT

__all__ = ["REPORT", "write_part"]

REPORT = ROOT / "docs" / "chaos.md"
_SOAK_MARK = "<!-- Below: written by `make soak` (the last 60-minute soak); do not edit. -->"


def write_part(part: str, text: str, path: Path = REPORT) -> None:
    """Replace the ``"audit"`` or ``"soak"`` part of the report with ``text``."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    audit, _, soak = current.partition(_SOAK_MARK)
    if part == "audit":
        audit = text
    elif part == "soak":
        soak = text
    else:
        raise ValueError(part)
    body = audit.rstrip("\n") + "\n"
    if soak.strip():
        body += f"\n{_SOAK_MARK}\n\n{soak.strip()}\n"
    path.write_text(body, encoding="utf-8")
