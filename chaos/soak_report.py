"""The soak's arithmetic and output: linear fits of the sampled metrics after the warm-up,
the bounds and verdicts, the audit's pass conditions, the markdown summary and the plot.

Kept apart from the driver (``chaos/soak.py``) so that it can be unit tested and re-run on a
samples CSV (``python chaos/soak_report.py chaos/results/soak/samples-10min.csv``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BOUNDS",
    "ROLES",
    "Bound",
    "Fit",
    "SoakAudit",
    "fit_line",
    "judge",
    "plot",
    "read_samples",
    "render_summary",
]

ROLES = ("commands", "poller", "webhooks")


@dataclass(frozen=True)
class Bound:
    """How far one metric may trend after the warm-up: ``per_hour`` is the largest slope
    allowed (the fitted line's rise extrapolated to one hour), ``ceiling`` (if any) the largest
    value any sample after the warm-up may show."""

    metric: str  # CSV column suffix: rss_mb, fds, vendor_conns, tasks, sqlite_mb, lag
    unit: str
    per_hour: float
    ceiling: float | None = None
    why: str = ""


BOUNDS: dict[str, Bound] = {
    "rss_mb": Bound(
        "rss_mb",
        "MB",
        5.0,
        why="resident memory: 5 MB/h (about 5 %/h of a ~100 MB process) is above what "
        "allocator noise fits to after the warm-up and far below a leak of a few hundred bytes "
        "per command (60 commands/s x 300 B = 65 MB/h)",
    ),
    "fds": Bound(
        "fds",
        "fds",
        6.0,
        why="open file descriptors other than the pooled vendor connections: fewer than 1 per "
        "10 minutes; a leaked connection or file per minute or faster fails",
    ),
    "vendor_conns": Bound(
        "vendor_conns",
        "connections",
        math.inf,
        ceiling=65.0,
        why="pooled connections to the vendor: a high-water mark of concurrent vendor requests "
        "(aiohttp reuses its idle connections in turn, so at this request rate none stays idle "
        "for the 15 s keep-alive and the pool does not shrink); no trend bound, but never more "
        "than a process's requests at once: 64 commands in flight at most "
        "(GATEWAY_COMMANDS__MAX_IN_FLIGHT) and a token request",
    ),
    "tasks": Bound(
        "tasks",
        "tasks",
        6.0,
        why="asyncio tasks (gateway_asyncio_tasks): fewer than 1 per 10 minutes",
    ),
    "sqlite_mb": Bound(
        "sqlite_mb",
        "MB",
        1.0,
        ceiling=64.0,
        why="the SQLite idempotency file (db + -wal): outcomes are kept for the retention "
        "setting and purged every purge interval (the file shrunk by incremental vacuum), so "
        "after retention + purge interval it holds a steady number of rows; the slope must "
        "stay under 1 MB/h and no sample above 64 MB",
    ),
    "lag": Bound(
        "lag",
        "records",
        60.0,
        ceiling=500.0,
        why="consumer lag of the commands group (end offsets - committed offsets): no upward "
        "trend (under 60 records/h) and never more than 500 records (10 s of the 50/s load)",
    ),
}


#: The shortest fit held to the bounds as they are: 45 minutes (the 60-minute soak fits the
#: 50 after its 10-minute warm-up). A shorter fit is held to the same absolute rise a bound
#: allows over 45 minutes (bound x 45/60 h): a window of a few minutes cannot resolve a slope
#: of a few per hour from sample noise (allocator steps of ~1 MB, in-flight work), so a quick
#: run catches gross leaks only.
REFERENCE_WINDOW_H = 45 / 60


@dataclass(frozen=True)
class Fit:
    """A least-squares line through (t, y) samples."""

    slope_per_h: float
    intercept: float
    n: int
    first: float  # the line's value at the first and last sample time
    last: float
    max: float
    span_h: float = math.nan  # from the first to the last sample

    @property
    def ok(self) -> bool:
        return self.n >= 3 and math.isfinite(self.slope_per_h)


def fit_line(points: Iterable[tuple[float, float]]) -> Fit:
    """Ordinary least squares of y on t (t in seconds); the slope is per hour. NaN samples
    (a metric that could not be read) are left out."""
    pts = [(t, y) for t, y in points if math.isfinite(y) and math.isfinite(t)]
    n = len(pts)
    if n < 3:
        return Fit(math.nan, math.nan, n, math.nan, math.nan, math.nan)
    mt = sum(t for t, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((t - mt) ** 2 for t, _ in pts)
    if sxx == 0:
        return Fit(math.nan, math.nan, n, math.nan, math.nan, math.nan)
    slope = sum((t - mt) * (y - my) for t, y in pts) / sxx
    intercept = my - slope * mt
    t0, t1 = pts[0][0], pts[-1][0]
    return Fit(
        slope * 3600.0,
        intercept,
        n,
        intercept + slope * t0,
        intercept + slope * t1,
        max(y for _, y in pts),
        (t1 - t0) / 3600.0,
    )


@dataclass
class Trend:
    """One metric of one process: its fit after the warm-up against its bound."""

    column: str
    bound: Bound
    fit: Fit

    @property
    def allowed_per_h(self) -> float:
        """The bound on the slope: the bound itself for a fit over 45 minutes or more; for a
        shorter one, the slope that rises as much over its window as the bound over 45 min."""
        span = self.fit.span_h if math.isfinite(self.fit.span_h) else 0.0
        if span <= 0:
            return self.bound.per_hour
        return self.bound.per_hour * max(1.0, REFERENCE_WINDOW_H / span)

    @property
    def passed(self) -> bool:
        if not self.fit.ok:
            return False
        if self.fit.slope_per_h > self.allowed_per_h:
            return False
        return self.bound.ceiling is None or self.fit.max <= self.bound.ceiling


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The samples CSV as rows of floats (``phase`` stays text)."""
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = {}
            for k, v in raw.items():
                if k == "phase":
                    row[k] = v
                else:
                    try:
                        row[k] = float(v) if v not in ("", None) else math.nan
                    except ValueError:
                        row[k] = math.nan
            rows.append(row)
    return rows


def metric_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The sampled columns that have a bound, in a stable order."""
    if not rows:
        return []
    out = []
    for metric in BOUNDS:
        out += [c for c in rows[0] if c == metric or c.endswith("_" + metric)]
    return out


def judge(rows: Sequence[dict[str, Any]], warmup_s: float) -> list[Trend]:
    """A fit per bounded column over the samples of the load phase after the warm-up."""
    measured = [r for r in rows if r.get("phase") == "load" and r["t_s"] >= warmup_s]
    trends = []
    for column in metric_columns(rows):
        metric = next(m for m in BOUNDS if column == m or column.endswith("_" + m))
        fit = fit_line((r["t_s"], r[column]) for r in measured)
        trends.append(Trend(column, BOUNDS[metric], fit))
    return trends


@dataclass
class SoakAudit:
    """What the soak's audit counted (chaos/README.md, "Soak")."""

    commands_sent: int = 0
    commands_by_type: dict[str, int] = field(default_factory=dict)
    results: int = 0
    missing: int = 0
    duplicates: int = 0
    unknown_results: int = 0
    not_succeeded: int = 0
    not_succeeded_examples: list[str] = field(default_factory=list)
    vendor_mutations: int = 0
    double_mutations: int = 0
    mutations_without_vendor_call: int = 0
    violations: int = 0
    vendor_requests: int = 0
    webhook_requests: int = 0
    webhook_2xx: int = 0
    webhook_statuses: dict[str, int] = field(default_factory=dict)
    poller_changes: int = 0
    poller_expected_events: int = 0
    poller_matched: int = 0
    poller_missing: int = 0
    poller_duplicates: int = 0
    poller_unexpected: int = 0
    poller_sequence_problems: int = 0
    poller_event_ids_twice: int = 0
    poller_events: int = 0
    poller_delay_p95_s: float | None = None
    poller_delay_max_s: float | None = None
    unexpected_exits: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def checks(self) -> list[tuple[str, str, bool]]:
        """(check, value, passed) rows of the audit."""
        return [
            ("commands sent (Kafka + webhooks)", f"{self.commands_sent:,}", self.commands_sent > 0),
            ("... with exactly one result (read_committed)", f"{self.results:,}", True),
            ("... without a result", f"{self.missing:,}", self.missing == 0),
            ("duplicate results", f"{self.duplicates:,}", self.duplicates == 0),
            (
                "results for ids no command carried",
                f"{self.unknown_results:,}",
                self.unknown_results == 0,
            ),
            ("results not succeeded", f"{self.not_succeeded:,}", self.not_succeeded == 0),
            (
                "vendor mutations executed (create, update, delete)",
                f"{self.vendor_mutations:,}",
                True,
            ),
            (
                "double mutations at the vendor",
                f"{self.double_mutations:,}",
                self.double_mutations == 0,
            ),
            (
                "succeeded mutations without a vendor call",
                f"{self.mutations_without_vendor_call:,}",
                self.mutations_without_vendor_call == 0,
            ),
            (
                "rate-limit violations (/_sim/violations)",
                f"{self.violations:,}",
                self.violations == 0,
            ),
            (
                "webhook requests / answered 2xx",
                f"{self.webhook_requests:,} / {self.webhook_2xx:,}",
                self.webhook_requests == self.webhook_2xx and self.webhook_requests > 0,
            ),
            (
                "poller: changes made / events expected",
                f"{self.poller_changes:,} / {self.poller_expected_events:,}",
                self.poller_expected_events > 0,
            ),
            (
                "poller: expected events missing",
                f"{self.poller_missing:,}",
                self.poller_missing == 0,
            ),
            (
                "poller: expected events seen twice",
                f"{self.poller_duplicates:,}",
                self.poller_duplicates == 0,
            ),
            (
                "poller: room/participant events no change explains",
                f"{self.poller_unexpected:,}",
                self.poller_unexpected == 0,
            ),
            (
                "poller: sequence gaps or repeats",
                f"{self.poller_sequence_problems:,}",
                self.poller_sequence_problems == 0,
            ),
            (
                "poller: event ids seen twice",
                f"{self.poller_event_ids_twice:,}",
                self.poller_event_ids_twice == 0,
            ),
            (
                "gateway processes that exited by themselves",
                f"{self.unexpected_exits:,}",
                self.unexpected_exits == 0,
            ),
        ]

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.checks()) and not self.problems


def _fmt(value: float, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def render_summary(
    trends: Sequence[Trend],
    audit: SoakAudit,
    *,
    header: str,
    warmup_s: float,
    plot_path: str,
) -> str:
    """The markdown summary: slopes against bounds, the audit, the verdict."""
    trends_ok = all(t.passed for t in trends) and bool(trends)
    verdict = "PASS" if trends_ok and audit.passed else "FAIL"
    lines = [
        header,
        "",
        f"**Verdict: {verdict}** (trends {'pass' if trends_ok else 'FAIL'}, "
        f"audit {'pass' if audit.passed else 'FAIL'}). Slopes are least-squares fits over the "
        f"samples after the {warmup_s / 60:g}-minute warm-up, up to the end of the load, "
        "extrapolated to one hour.",
        "",
        "| metric | slope per hour | bound per hour | first → last (fit) | max | verdict |",
        "|---|---|---|---|---|---|",
    ]
    scaled = False
    for t in trends:
        ceiling = f", max ≤ {t.bound.ceiling:g}" if t.bound.ceiling is not None else ""
        allowed = f"< {t.bound.per_hour:g}" if math.isfinite(t.bound.per_hour) else "–"
        if math.isfinite(t.bound.per_hour) and t.allowed_per_h > t.bound.per_hour:
            allowed += f" (this window: {t.allowed_per_h:.3g})"
            scaled = True
        lines.append(
            f"| {t.column} | {_fmt(t.fit.slope_per_h)} {t.bound.unit} "
            f"| {allowed} {t.bound.unit}{ceiling} "
            f"| {_fmt(t.fit.first)} → {_fmt(t.fit.last)} | {_fmt(t.fit.max)} "
            f"| {'pass' if t.passed else '**FAIL**'} |"
        )
    if scaled:
        lines += [
            "",
            f"The fits span {trends[0].fit.span_h * 60:.0f} minutes: each bound is scaled to "
            f"the same absolute rise it allows over {REFERENCE_WINDOW_H * 60:.0f} minutes, the "
            "shortest fit held to the bounds as they are (the 60-minute soak fits 50; a short "
            "window cannot resolve a slope of a few per hour: this run catches gross leaks only).",
        ]
    lines += ["", "| audit | count | verdict |", "|---|---|---|"]
    for name, value, ok in audit.checks():
        lines.append(f"| {name} | {value} | {'pass' if ok else '**FAIL**'} |")
    if audit.commands_by_type:
        mix = ", ".join(f"{k} {v:,}" for k, v in sorted(audit.commands_by_type.items()))
        lines += ["", f"Commands by type: {mix}."]
    if audit.poller_delay_p95_s is not None:
        lines.append(
            f"Poller: {audit.poller_events:,} events; change → event p95 "
            f"{audit.poller_delay_p95_s:.1f} s, max {audit.poller_delay_max_s:.1f} s."
        )
    lines += [f"- FAILED CHECK: {p}" for p in audit.problems]
    lines += [f"- {n}" for n in audit.notes]
    lines += ["", f"Plot: `{plot_path}`"]
    return "\n".join(lines) + "\n"


def plot(
    rows: Sequence[dict[str, Any]], trends: Sequence[Trend], warmup_s: float, out: Path, title: str
) -> None:
    """One PNG: a panel per metric (every process in it), the warm-up shaded, the fits drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("rss_mb", "RSS (MB)"),
        ("fds", "open fds\n(less vendor pool)"),
        ("vendor_conns", "pooled vendor\nconnections"),
        ("tasks", "asyncio tasks\n(net of poller reads)"),
        ("sqlite_mb", "SQLite db + wal (MB)"),
        ("lag", "commands consumer lag (records)"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.4 * len(panels)), sharex=True)
    by_column = {t.column: t for t in trends}
    minutes = [r["t_s"] / 60 for r in rows]
    for ax, (metric, label) in zip(axes, panels, strict=True):
        columns = [c for c in (rows[0] if rows else {}) if c == metric or c.endswith("_" + metric)]
        for column in columns:
            ys = [r[column] for r in rows]
            (line,) = ax.plot(minutes, ys, lw=1, label=column.removesuffix("_" + metric))
            trend = by_column.get(column)
            if trend is not None and trend.fit.ok:
                measured = [
                    r["t_s"] for r in rows if r.get("phase") == "load" and r["t_s"] >= warmup_s
                ]
                if measured:
                    xs = [measured[0], measured[-1]]
                    fit_y = [trend.fit.intercept + trend.fit.slope_per_h / 3600 * x for x in xs]
                    ax.plot(
                        [x / 60 for x in xs],
                        fit_y,
                        ls="--",
                        lw=1.5,
                        color=line.get_color(),
                        label=f"fit {trend.fit.slope_per_h:+.2f}/h",
                    )
        ax.axvspan(0, warmup_s / 60, color="0.9", zorder=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best", ncol=3, framealpha=0.6)
    axes[-1].set_xlabel("minutes since the load started (grey: warm-up)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Re-judge and re-plot a samples CSV (the audit is not re-run)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("samples", type=Path)
    parser.add_argument("--warmup-minutes", type=float, required=True)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = read_samples(args.samples)
    trends = judge(rows, args.warmup_minutes * 60)
    for t in trends:
        print(
            f"{t.column:24} {t.fit.slope_per_h:10.3f}/h  max {t.fit.max:10.2f}  "
            f"{'pass' if t.passed else 'FAIL'}"
        )
    if args.png:
        plot(rows, trends, args.warmup_minutes * 60, args.png, str(args.samples))
    return 0 if all(t.passed for t in trends) else 1


if __name__ == "__main__":
    raise SystemExit(main())
