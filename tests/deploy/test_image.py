"""Dockerfile, .dockerignore and docker-compose.yml, checked as far as no Docker engine is needed.

Building and running the image is left to a machine with Docker (docs/operations.md, "Checking
the image"); here the files are read and held against the settings, the CLI and each other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app.settings_table import settings_rows
from gateway.settings import GatewaySettings
from tests.deploy.chart_settings import ROOT

DOCKERFILE = ROOT / "Dockerfile"
UV_REQUIREMENTS = ROOT / "deploy" / "docker" / "uv-requirements.txt"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
MAKEFILE = ROOT / "Makefile"
KAFKA_POM = ROOT / "scripts" / "kafka" / "pom.xml"

DEFAULTS = GatewaySettings.model_construct()


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split into stages."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    out: list[list[str]] = [[]]
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out[1:]


def named_stages() -> dict[str, list[str]]:
    """The stages by their ``AS`` name."""
    return {stage[0].split()[-1]: stage for stage in stages()}


def chain(name: str) -> list[str]:
    """A stage's instructions preceded by those of the stages it is built FROM."""
    named = named_stages()
    stage = named[name]
    base = stage[0].split()[1]
    return (chain(base) if base in named else []) + stage


def instructions(stage: list[str], keyword: str) -> list[str]:
    """The arguments of every ``keyword`` instruction of a stage."""
    return [line.split(None, 1)[1] for line in stage if line.upper().startswith(keyword + " ")]


def compose() -> dict[str, Any]:
    """docker-compose.yml."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def test_dockerfile_is_multi_stage_on_slim_python_311() -> None:
    """Build, production virtualenv, simulator and runtime stages, on the slim Python 3.11
    base pinned by digest; the production runtime is the last stage (the default target)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, flags=re.M)
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?@sha256:[0-9a-f]{64}", base), (
        f"the base image must be pinned by digest: {base}"
    )
    named = named_stages()
    assert list(named) == ["build", "production-venv", "runtime-base", "simulator", "runtime"]
    assert named["build"][0] == "FROM ${PYTHON_IMAGE} AS build"
    assert named["runtime-base"][0] == "FROM ${PYTHON_IMAGE} AS runtime-base"
    assert stages()[-1][0] == "FROM runtime-base AS runtime"


def test_final_stage_has_no_build_tools() -> None:
    """The final stage installs nothing: it copies the built virtualenv and removes pip."""
    final = chain("runtime")
    runs = " ".join(instructions(final, "RUN"))
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "uv ", "pip install"):
        assert tool not in runs, f"final stage runs {tool!r}"
    assert "pip uninstall" in runs
    assert instructions(final, "COPY") == ["--from=production-venv /opt/gateway /opt/gateway"]


def test_uv_is_installed_by_hash() -> None:
    """pip installs uv only from a wheel whose sha256 the requirements file lists."""
    (install,) = [r for r in instructions(named_stages()["build"], "RUN") if "pip install" in r]
    assert "--require-hashes" in install
    assert "-r /tmp/uv-requirements.txt" in install
    assert "uv==" not in install, "the version and its hashes come from the file"
    text = re.sub(r"\\\n\s*", " ", UV_REQUIREMENTS.read_text(encoding="utf-8"))
    (line,) = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    requirement, *options = line.split()
    assert re.fullmatch(r"uv==[0-9.]+", requirement)
    hashes = [o.removeprefix("--hash=sha256:") for o in options]
    assert len(hashes) >= 2, "one wheel per platform of the image (amd64, arm64)"
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), options


def test_production_image_has_no_simulator_and_no_test_packages() -> None:
    """Only runtime dependencies are synced; the production virtualenv loses the simulator;
    only the simulator target copies the full virtualenv."""
    build = named_stages()["build"]
    syncs = [r for r in instructions(build, "RUN") if "uv sync" in r]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--no-dev" in sync
        assert "--frozen" in sync
        assert "--extra" not in sync
        assert "--all-extras" not in sync
    (prune,) = instructions(named_stages()["production-venv"], "RUN")
    assert prune.startswith("rm -r /opt/gateway/lib/python3.11/site-packages/gateway/simulator")
    assert 'import gateway.simulator" 2> /dev/null; then exit 1' in prune
    assert instructions(named_stages()["simulator"], "COPY") == [
        "--from=build /opt/gateway /opt/gateway"
    ]


def test_runs_as_non_root_with_gateway_entrypoint() -> None:
    """A numeric non-root user (the chart's), ENTRYPOINT gateway, default role all."""
    final = chain("runtime")
    (user,) = instructions(final, "USER")
    uid = int(user.split(":")[0])
    assert uid == 10001
    values = yaml.safe_load((ROOT / "deploy/helm/gateway/values.yaml").read_text("utf-8"))
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert instructions(final, "ENTRYPOINT") == ['["gateway"]']
    assert instructions(final, "CMD") == ['["run", "--role", "all"]']


def test_read_only_root_filesystem_works() -> None:
    """Bytecode is compiled at build time and nothing is written outside the mounted dirs."""
    build, final = named_stages()["build"], chain("runtime")
    env = " ".join(instructions(build, "ENV") + instructions(final, "ENV"))
    assert "UV_COMPILE_BYTECODE=1" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    assert "GATEWAY_IDEMPOTENCY__SQLITE_PATH=/var/lib/gateway/" in env
    assert instructions(final, "WORKDIR") == ["/var/lib/gateway"]


def test_healthcheck_and_ports_match_the_settings() -> None:
    """HEALTHCHECK asks /healthz on the ops port; EXPOSE names the webhooks and ops ports."""
    final = chain("runtime")
    (check,) = instructions(final, "HEALTHCHECK")
    assert "/healthz" in check
    assert f"'GATEWAY_OPS__PORT', '{DEFAULTS.ops.port}'" in check
    (expose,) = instructions(final, "EXPOSE")
    assert set(expose.split()) == {str(DEFAULTS.webhooks.port), str(DEFAULTS.ops.port)}
    env = " ".join(instructions(final, "ENV"))
    assert "GATEWAY_WEBHOOKS__HOST=0.0.0.0" in env


def test_uv_version_is_the_makefiles() -> None:
    """The image resolves uv.lock with the uv version the Makefile pins."""
    (make,) = re.findall(r"^UV_VERSION := (\S+)$", MAKEFILE.read_text("utf-8"), flags=re.M)
    (docker,) = re.findall(r"^uv==(\S+)", UV_REQUIREMENTS.read_text("utf-8"), flags=re.M)
    assert docker == make


def test_dockerignore_allows_exactly_what_the_build_copies() -> None:
    """.dockerignore is an allow-list holding every path the Dockerfile copies from the context."""
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for stage in stages():
        for args in instructions(stage, "COPY"):
            if not args.startswith("--from"):
                copied |= {Path(p).as_posix().rstrip("/") for p in args.split()[:-1]}
    assert copied == allowed
    for path in allowed:
        assert (ROOT / path).exists(), path


# ---------------------------------------------------------------------------------------
# docker-compose.yml


def test_compose_services() -> None:
    """Kafka (apache/kafka, KRaft), its topics, Redis, the simulator and all roles."""
    services = compose()["services"]
    assert set(services) == {"kafka", "kafka-init", "redis", "simulator", "gateway"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["gateway"]["command"] == ["run", "--role", "all"]
    assert services["simulator"]["command"] == [
        "simulator",
        "--host",
        "0.0.0.0",  # noqa: S104 (inside its container)
        "--port",
        "9610",
    ]
    assert services["gateway"]["build"] == ".", "the production image, the default target"
    assert services["simulator"]["build"] == {"context": ".", "target": "simulator"}
    assert services["simulator"]["image"] != services["gateway"]["image"]
    for name in ("gateway", "simulator"):
        service = services[name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]


def test_compose_kafka_is_the_tests_kafka() -> None:
    """The compose broker runs the Kafka version of scripts/kafka/pom.xml."""
    (version,) = re.findall(
        r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text("utf-8")
    )
    services = compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{version}"


def test_compose_creates_the_contract_topics() -> None:
    """kafka-init is the gateway image running `gateway topics ensure` against the gateway's own
    broker (no shell loop to keep in step with the settings), and the gateway starts only after
    it succeeded."""
    services = compose()["services"]
    init, gateway = services["kafka-init"], services["gateway"]
    assert init["command"] == ["topics", "ensure"]
    assert init["image"] == gateway["image"]
    bootstrap = "GATEWAY_KAFKA__BOOTSTRAP_SERVERS"
    assert init["environment"][bootstrap] == gateway["environment"][bootstrap]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_compose_gateway_env_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GATEWAY_ variable in compose is a setting, and together they validate."""
    env = {k: str(v) for k, v in compose()["services"]["gateway"]["environment"].items()}
    known = {name for name, _, _ in settings_rows()}
    unknown = sorted(set(env) - known)
    assert not unknown, f"not settings (typo?): {unknown}"
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = GatewaySettings()
    assert settings.kafka.bootstrap_servers == "kafka:19092"
    assert settings.idempotency.backend == "redis"
    assert settings.webhooks.host == "0.0.0.0"  # noqa: S104 (inside its container)
    assert settings.webhooks.secrets, "the webhooks role needs a secret to verify with"


def test_compose_publishes_the_ports_the_docs_name() -> None:
    """Kafka's host listener is 127.0.0.1:9092 (the CLI's default); API and ops are published."""
    services = compose()["services"]
    listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"EXTERNAL://{DEFAULTS.kafka.bootstrap_servers}" in listeners
    ports = set(services["gateway"]["ports"])
    assert ports == {
        f"{DEFAULTS.webhooks.port}:{DEFAULTS.webhooks.port}",
        f"{DEFAULTS.ops.port}:{DEFAULTS.ops.port}",
    }
