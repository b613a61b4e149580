"""The audit every case ends with, the stall measure, and the table."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Audit", "max_stall", "render_table", "write_results"]


@dataclass
class Audit:
    """What a case measured; ``problems`` (case-specific checks) also fail it."""

    case: str
    title: str
    sent: int = 0
    results: int = 0
    missing: int = 0
    duplicates: int = 0
    double_mutations: int = 0
    violations: int = 0
    max_stall_s: float = 0.0
    budget_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.refused is None
            and self.error is None
            and self.missing == 0
            and self.duplicates == 0
            and self.double_mutations == 0
            and self.violations == 0
            and self.max_stall_s <= self.budget_s
            and not self.problems
        )

    @property
    def verdict(self) -> str:
        if self.refused is not None:
            return "REFUSED"
        return "PASS" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict
        return out


def max_stall(
    sends: Iterable[tuple[float, int]],
    results: Iterable[tuple[float, int]],
    end: float,
) -> tuple[float, int | None]:
    """The longest time any partition had work outstanding without a result appearing.

    ``sends``: (time, partition) of each command that expects a result; ``results``: (time,
    partition) of the first result of each of them; ``end``: when the audit stopped waiting
    (a partition still owing results at the end stalls until then). A partition with nothing
    outstanding is idle, not stalled: the clock of a gap starts at the later of its last
    result and the moment work became outstanding. Returns (seconds, partition).
    """
    events: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for t, p in sends:
        events[p].append((t, +1))
    for t, p in results:
        events[p].append((t, -1))
    worst, where = 0.0, None
    for p, timeline in events.items():
        # A result before its send (clock skew between threads) is treated as simultaneous.
        timeline.sort(key=lambda e: (e[0], -e[1]))
        pending, since = 0, 0.0
        for t, delta in timeline:
            if delta > 0:
                if pending == 0:
                    since = t
                pending += 1
            else:
                if pending > 0 and t - since > worst:
                    worst, where = t - since, p
                pending = max(0, pending - 1)
                since = t
        if pending > 0 and end - since > worst:
            worst, where = end - since, p
    return worst, where


def duplicates(counts: Counter[str] | dict[str, int]) -> int:
    """Records beyond the first per id."""
    return sum(n - 1 for n in counts.values() if n > 1)


COLUMNS = (
    "case",
    "sent",
    "results",
    "missing",
    "duplicates",
    "double mutations",
    "violations",
    "max stall s",
    "budget s",
    "verdict",
)


def _cell(value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.1f}"


def render_table(audits: list[Audit]) -> str:
    """The audit table as markdown, then one line per problem or note."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for a in audits:
        if a.refused is not None:
            row = [a.case, "-", "-", "-", "-", "-", "-", "-", "-", "REFUSED"]
        else:
            row = [
                a.case,
                f"{a.sent:,}",
                f"{a.results:,}",
                f"{a.missing:,}",
                f"{a.duplicates:,}",
                f"{a.double_mutations:,}",
                f"{a.violations:,}",
                _cell(a.max_stall_s),
                _cell(a.budget_s),
                a.verdict,
            ]
        lines.append("| " + " | ".join(row) + " |")
    extra = []
    for a in audits:
        if a.refused:
            extra.append(f"- **{a.case}** refused: {a.refused}")
        if a.error:
            extra.append(f"- **{a.case}** error: {a.error}")
        extra += [f"- **{a.case}** FAILED CHECK: {p}" for p in a.problems]
        extra += [f"- {a.case}: {n}" for n in a.notes]
    return "\n".join(lines + (["", *extra] if extra else []))


def write_results(audits: list[Audit], out_dir: Path, header: str) -> Path:
    """chaos/results/audit.md and audit.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "audit.md").write_text(f"{header}\n\n{render_table(audits)}\n", encoding="utf-8")
    payload = {"header": header, "cases": [a.as_dict() for a in audits]}
    (out_dir / "audit.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return out_dir / "audit.md"


def rate_diagnostics(log: list[dict[str, Any]], rate: float, burst: int) -> dict[str, Any]:
    """Why the vendor flagged requests: the busiest 1 s and 100 ms windows of arrivals (on the
    simulator's clock, no tolerance), and the neighbourhood of the first flagged requests."""
    arrivals = sorted(e["mono"] for e in log)

    def busiest(width: float) -> tuple[int, float]:
        best, at, j = 0, 0.0, 0
        for i, t in enumerate(arrivals):
            while arrivals[j] < t - width:
                j += 1
            if i - j + 1 > best:
                best, at = i - j + 1, t
        return best, at

    one_s, _ = busiest(1.0)
    tenth, tenth_at = busiest(0.1)
    first = arrivals[0] if arrivals else 0.0
    over = [e for e in log if e.get("over_limit")]
    around = []
    for e in over[:5]:
        t = e["mono"]
        around.append(
            {
                "at_s": round(t - first, 3),
                "path": e["path"],
                "client": e.get("client"),
                "in_prev_100ms": sum(1 for a in arrivals if t - 0.1 <= a <= t),
                "in_prev_1s": sum(1 for a in arrivals if t - 1.0 <= a <= t),
            }
        )
    return {
        "busiest_1s": one_s,
        "allowed_1s": burst + rate,
        "busiest_100ms": tenth,
        "busiest_100ms_at_s": round(tenth_at - first, 3),
        "allowed_100ms": round(burst + rate * 0.1, 1),
        "first_over_limit": around,
    }
