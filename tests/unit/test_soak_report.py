"""The soak's verdict arithmetic (chaos/soak_report.py): fits, bounds, the audit's checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from chaos.soak_report import BOUNDS, SoakAudit, fit_line, judge, read_samples, render_summary


def rows(
    values: dict[str, list[float]], step_s: float = 10.0, phase: str = "load"
) -> list[dict[str, Any]]:
    n = len(next(iter(values.values())))
    return [
        {"t_s": i * step_s, "phase": phase, **{k: v[i] for k, v in values.items()}}
        for i in range(n)
    ]


def test_the_slope_is_per_hour_and_nan_samples_are_left_out() -> None:
    points = [(t, 100.0 + t / 3600 * 4.0) for t in range(0, 1800, 10)]
    points.insert(5, (45.0, math.nan))
    fit = fit_line(points)
    assert fit.slope_per_h == pytest.approx(4.0)
    assert fit.n == 180
    assert fit.first == pytest.approx(100.0)
    assert fit.max == pytest.approx(100.0 + 1790 / 3600 * 4.0)


def test_too_few_samples_give_no_fit_and_fail() -> None:
    trends = judge(rows({"commands_fds": [10.0, 10.0, 10.0]}), warmup_s=15.0)
    (trend,) = trends
    assert not trend.fit.ok
    assert not trend.passed


def test_the_warm_up_and_the_drain_are_left_out_of_the_fit() -> None:
    # RSS climbs 20 MB in the warm-up, then stays flat; the drain (not load) jumps.
    warm = [80.0 + 2 * i for i in range(10)]
    flat = [100.0] * 30
    samples = rows({"poller_rss_mb": warm + flat})
    samples += [{"t_s": 400.0 + i, "phase": "drain", "poller_rss_mb": 500.0} for i in range(5)]
    (trend,) = judge(samples, warmup_s=100.0)
    assert trend.fit.slope_per_h == pytest.approx(0.0)
    assert trend.passed
    (with_warmup,) = judge(samples, warmup_s=0.0)
    assert with_warmup.fit.slope_per_h > BOUNDS["rss_mb"].per_hour
    assert not with_warmup.passed


def test_a_slope_over_its_bound_or_a_sample_over_the_ceiling_fails() -> None:
    # fds: +1 every 5 minutes (12/h) for 55 minutes, over the bound of 6/h.
    leak = [20.0 + (i * 10) // 300 for i in range(330)]
    # lag: flat at 10 but one sample above the ceiling of 500.
    spike = [10.0] * 200 + [900.0] + [10.0] * 129
    trends = {t.column: t for t in judge(rows({"webhooks_fds": leak, "lag": spike}), 0.0)}
    assert trends["webhooks_fds"].allowed_per_h == BOUNDS["fds"].per_hour
    assert trends["webhooks_fds"].fit.slope_per_h == pytest.approx(12.0, rel=0.1)
    assert not trends["webhooks_fds"].passed
    assert not trends["lag"].passed


def test_a_short_window_is_held_to_the_rise_the_full_window_allows() -> None:
    # 10 minutes: the bound of 6 fds/h over 45 minutes is a rise of 4.5; +1 per 2.5 minutes
    # (24/h, a rise of 4 in 10 minutes) is within it, +1 per minute (60/h) is not.
    slow = [20.0 + (i * 10) / 150 for i in range(61)]
    fast = [20.0 + (i * 10) / 60 for i in range(61)]
    trends = {t.column: t for t in judge(rows({"poller_fds": slow, "commands_fds": fast}), 0.0)}
    assert trends["poller_fds"].allowed_per_h == pytest.approx(27.0)
    assert trends["poller_fds"].fit.slope_per_h == pytest.approx(24.0)
    assert trends["poller_fds"].passed
    assert not trends["commands_fds"].passed


def test_the_audit_fails_on_any_failing_count(tmp_path: Path) -> None:
    clean = SoakAudit(commands_sent=10, results=10, webhook_requests=2, webhook_2xx=2)
    clean.poller_expected_events = 5
    assert clean.passed
    for name in (
        "missing",
        "duplicates",
        "double_mutations",
        "violations",
        "poller_missing",
        "poller_sequence_problems",
        "unexpected_exits",
    ):
        audit = SoakAudit(**{**clean.__dict__, name: 1})
        assert not audit.passed, name
    refused = SoakAudit(**{**clean.__dict__, "webhook_2xx": 1})
    assert not refused.passed
    csv = tmp_path / "samples.csv"
    csv.write_text("t_s,wall,phase,lag\n0,00:00:00,load,1\n10,00:00:10,load,\n")
    samples = read_samples(csv)
    assert samples[0]["lag"] == 1.0
    assert math.isnan(samples[1]["lag"])
    text = render_summary(
        judge(samples, 0.0), clean, header="## t", warmup_s=0.0, plot_path="p.png"
    )
    assert "**Verdict: FAIL**" in text  # two samples, one of them unreadable: no fit
