"""The Grafana dashboard and the chart's alerts use only metrics the gateway serves on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics import MetricWrapperBase

import gateway.telemetry.metrics as gateway_metrics
from gateway.app.ops_server import build_ops_app
from tests.deploy.chart_settings import ROOT
from tests.deploy.conftest import PRODUCTION, Render, by_kind

# The alert tests render the chart: the first use of helm may build it (minutes, cold cache).
pytestmark = pytest.mark.timeout(1500)

DASHBOARD = ROOT / "deploy" / "grafana" / "gateway.json"
OPERATIONS = ROOT / "docs" / "operations.md"

METRIC = re.compile(r"\bgateway_[a-z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
# Labels Prometheus adds to every scraped series (ServiceMonitor target labels).
TARGET_LABELS = {"namespace", "pod", "service", "container", "job", "instance", "role"}
# Sample-name suffixes per family type in the text exposition format (a counter's # TYPE
# line already names it with _total).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
# What the issue asks the dashboard to show, as the sample each needs.
REQUIRED = {
    "commands by status": "gateway_commands_total",
    "vendor latency": "gateway_vendor_request_seconds_bucket",
    "rate-limiter wait": "gateway_ratelimit_wait_seconds_bucket",
    "lag": "gateway_consumer_lag",
    "poller cycles": "gateway_poller_cycle_seconds_count",
    "events by type": "gateway_poller_events_total",
}


@pytest.fixture(scope="module")
async def exposed() -> dict[str, str]:
    """Sample name -> family, as GET /metrics of the operations endpoint serves them."""
    transport = httpx.ASGITransport(app=build_ops_app({}))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, str] = {}
    for line in response.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            if kind == "counter":
                family = family.removesuffix("_total")
            for suffix in SUFFIXES.get(kind, ("",)):
                samples[family + suffix] = family
    return samples


def label_names() -> dict[str, set[str]]:
    """Family name -> its label names, from the metric objects of gateway.telemetry.metrics."""
    out: dict[str, set[str]] = {}
    for obj in vars(gateway_metrics).values():
        if isinstance(obj, MetricWrapperBase):
            # prometheus_client keeps them on the (long-stable) _name/_labelnames attributes.
            out[obj._name] = set(obj._labelnames)
    return out


def dashboard() -> dict[str, Any]:
    """deploy/grafana/gateway.json."""
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> list[dict[str, Any]]:
    """Every panel that queries (rows excluded), nested ones included."""
    out = []
    for panel in dashboard()["panels"]:
        out += [panel, *panel.get("panels", [])]
    return [p for p in out if p.get("type") != "row"]


def family_of(sample: str, samples: dict[str, str]) -> str:
    """The family a sample name belongs to (itself when unknown; another test reports it)."""
    return samples.get(sample, sample)


async def test_gateway_metric_names_are_served(exposed: dict[str, str]) -> None:
    """Every name in gateway.telemetry.metrics.METRIC_NAMES is a family on /metrics."""
    families = set(exposed.values())
    missing = [
        name
        for name in gateway_metrics.METRIC_NAMES
        if name not in exposed and name not in families
    ]
    assert not missing, f"METRIC_NAMES not on /metrics: {missing}"


async def test_every_panel_metric_exists_on_metrics(exposed: dict[str, str]) -> None:
    """Each panel queries at least one gateway metric, and every one of them is on /metrics."""
    unknown = []
    for panel in panels():
        names = {n for t in panel["targets"] for n in METRIC.findall(t["expr"])}
        assert names, f"panel {panel['title']!r} queries no gateway_ metric"
        unknown += [f"{panel['title']}: {n}" for n in sorted(names) if n not in exposed]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("definition", "")
        unknown += [
            f"variable {variable['name']}: {n}" for n in METRIC.findall(query) if n not in exposed
        ]
    assert not unknown, "metrics the gateway does not serve on /metrics:\n  " + "\n  ".join(unknown)


async def test_panel_labels_exist(exposed: dict[str, str]) -> None:
    """Labels a panel groups by or names in its legend are labels of its metrics."""
    labels = label_names()
    wrong = []
    for panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            families = {family_of(n, exposed) for n in METRIC.findall(expr)}
            known = set(TARGET_LABELS)
            for family in families:
                known |= labels.get(family, set())
                if any(
                    f"{family}_bucket" == n for n in METRIC.findall(expr)
                ):  # histogram buckets carry le
                    known.add("le")
            used = {
                label.strip()
                for group in GROUPING.findall(expr)
                for label in group.split(",")
                if label.strip()
            }
            used |= set(LEGEND_LABEL.findall(target.get("legendFormat", "")))
            wrong += [f"{panel['title']}: {label}" for label in sorted(used - known)]
    assert not wrong, "labels the metrics do not have:\n  " + "\n  ".join(wrong)


async def test_dashboard_shows_what_the_issue_asks() -> None:
    """Commands by status, vendor latency, rate-limiter wait, lag, poller cycles, events by type."""
    used = {n for p in panels() for t in p["targets"] for n in METRIC.findall(t["expr"])}
    missing = [topic for topic, sample in REQUIRED.items() if sample not in used]
    assert not missing, f"the dashboard lacks: {missing}"


async def test_dashboard_is_well_formed() -> None:
    """Unique panel ids, a datasource variable on every query, panels inside the 24-wide grid."""
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "vendor-gateway"
    for panel in panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["description"], f"panel {panel['title']!r} says what it shows"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def alert_rules(render: Render) -> list[dict[str, Any]]:
    """The PrometheusRule's alerts as production renders them."""
    (rule,) = by_kind(render(PRODUCTION), "PrometheusRule").values()
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


async def test_alert_metrics_exist_on_metrics(render: Render, exposed: dict[str, str]) -> None:
    """Every gateway metric an alert expression uses is served on /metrics."""
    unknown = [
        f"{rule['alert']}: {name}"
        for rule in alert_rules(render)
        for name in METRIC.findall(rule["expr"])
        if name not in exposed
    ]
    assert not unknown, unknown
    labels = label_names()
    assert "error_class" in labels["gateway_dlq"], "GatewayDeadLetters groups by error_class"
    assert "status" in labels["gateway_commands"], "GatewayCommandsFailing filters on status"
    assert "status" in labels["gateway_webhook_requests"], "GatewayWebhooksErrors uses status"


async def test_every_alert_is_documented(render: Render) -> None:
    """docs/operations.md has a section for every alert, which the alert's runbook names."""
    text = OPERATIONS.read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in text.splitlines()
        if line.startswith("#")
    }
    for rule in alert_rules(render):
        anchor = rule["alert"].lower()
        assert anchor in headings, f"docs/operations.md has no '### {rule['alert']}' section"
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{anchor}"


def test_dashboard_file_is_json() -> None:
    """The dashboard is plain JSON with a trailing newline (importable as is)."""
    text = Path(DASHBOARD).read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert json.loads(text)["schemaVersion"] >= 36
