"""What every scenario does at its end: one JSON line on stdout, a JSON file and a PNG plot.

Plots are 800x450 px (8 x 4.5 in at 100 dpi), matplotlib's Agg backend (no display needed),
written to ``bench/results/<name>.png``; ``bench/run_all.py`` copies them to
``docs/benchmarks/`` for the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SIZE_IN = (8.0, 4.5)
DPI = 100
COLORS = {
    "gateway": "#1f77b4",
    "baseline": "#ff7f0e",
    "baseline_aiohttp": "#d62728",
    "connect": "#2ca02c",
    "kafka_only": "#7f7f7f",
}

__all__ = ["COLORS", "RESULTS_DIR", "color", "emit", "figure", "save"]


def color(name: str) -> str:
    """A stable colour per system under test."""
    return COLORS.get(name, "#9467bd")


def figure(ncols: int = 1, nrows: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """An 800x450 figure with ``nrows`` x ``ncols`` axes."""
    fig, axes = plt.subplots(nrows, ncols, figsize=SIZE_IN, dpi=DPI, **kwargs)
    return fig, axes


def save(fig: Figure, name: str) -> Path:
    """Write the figure to bench/results/<name>.png and close it."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def emit(name: str, report: dict[str, Any]) -> None:
    """Write bench/results/<name>.json and print the report as one JSON line."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    report.setdefault("plot", f"bench/results/{name}.png")
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report), flush=True)
