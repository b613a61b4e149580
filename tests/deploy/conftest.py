"""Fixtures of the deployment tests: the project's helm, and the chart rendered with values."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart_settings import CHART, ROOT

HELM_SCRIPT = ROOT / "scripts" / "helm.sh"
PRODUCTION = ROOT / "deploy" / "helm" / "values-production.yaml"
RELEASE = "vg"
NAMESPACE = "vendor-gateway"

Manifests = list[dict[str, Any]]
Render = Callable[..., Manifests]


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm that scripts/helm.sh builds from the Go module proxy (installed on first use)."""
    try:
        result = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
            [shutil.which("bash") or "/bin/bash", str(HELM_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scripts/helm.sh did not finish building helm in {exc.timeout} s")
    path = Path(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else None
    if result.returncode != 0 or path is None or not path.is_file():
        pytest.fail(
            "helm is needed by the chart tests and scripts/helm.sh could not provide it "
            f"(exit {result.returncode}); it builds helm with `go install` from the Go module "
            f"proxy (needs Go on PATH), or run `make helm`.\n{result.stderr[-3000:]}"
        )
    return path


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run helm with ``args`` (never raises; the caller checks the exit code)."""
    return subprocess.run(  # noqa: S603 (the project's helm, arguments from the tests)
        [str(helm), *args], capture_output=True, text=True, timeout=120, check=False
    )


def set_args(values: dict[str, Any] | None) -> list[str]:
    """``--set-json`` arguments for a mapping of dotted paths to values."""
    args: list[str] = []
    for key, value in (values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


@lru_cache(maxsize=64)
def _template(helm: Path, files: tuple[Path, ...], sets: tuple[str, ...]) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for file in files:
        args += ["--values", str(file)]
    result = run_helm(helm, *args, *sets)
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return result.stdout


class RenderError(Exception):
    """helm template refused the values (the message is helm's)."""


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """``render(*values_files, sets={"a.b": 1})``: the chart's manifests as dicts (cached)."""

    def _render(*files: Path, sets: dict[str, Any] | None = None) -> Manifests:
        text = _template(helm, tuple(files), tuple(set_args(sets)))
        return [doc for doc in yaml.safe_load_all(text) if doc]

    return _render


def by_kind(manifests: Manifests, kind: str) -> dict[str, dict[str, Any]]:
    """The manifests of one kind, by name."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def deployments(manifests: Manifests) -> dict[str, dict[str, Any]]:
    """The Deployments by role (their app.kubernetes.io/component label)."""
    return {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m
        for m in manifests
        if m["kind"] == "Deployment"
    }


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    """The gateway container of a Deployment."""
    (only,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert only["name"] == "gateway"
    return only


def effective_env(manifests: Manifests, deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the container's environment holds: name -> {"value"} or {"valueFrom"}.

    ConfigMaps named in envFrom are resolved from the rendered manifests; explicit ``env``
    entries win over them, as in Kubernetes.
    """
    configmaps = by_kind(manifests, "ConfigMap")
    env: dict[str, dict[str, Any]] = {}
    spec = container(deployment)
    for source in spec.get("envFrom", []):
        ref = source.get("configMapRef")
        assert ref is not None, f"unexpected envFrom source {source}"
        data = configmaps[ref["name"]].get("data") or {}
        env.update({name: {"value": value} for name, value in data.items()})
    for entry in spec.get("env", []):
        env[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
    return env
