"""The Helm chart (deploy/helm/gateway): lint, render, and what the rendered manifests promise.

Everything about settings is derived from ``gateway.settings`` at test time: a setting added
there without its values entry fails here, naming the entry to add.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from gateway.app.settings_table import settings_rows
from gateway.settings import GatewaySettings
from tests.deploy.chart_settings import (
    DOWNWARD_API,
    SCHEMA,
    VALUES,
    Leaf,
    config_schema,
    settings_leaves,
)
from tests.deploy.conftest import (
    PRODUCTION,
    Render,
    RenderError,
    by_kind,
    container,
    deployments,
    effective_env,
    run_helm,
)

# The first use of the `helm` fixture may build helm (a few minutes on a cold Go cache).
pytestmark = pytest.mark.timeout(1500)

ROLES = ("commands", "poller", "webhooks")

# Where the chart's values.yaml deliberately differs from the gateway's own default.
CHART_DEFAULTS = {
    "GATEWAY_IDEMPOTENCY__SQLITE_PATH": "the root filesystem is read-only: the data volume",
    "GATEWAY_WEBHOOKS__HOST": "a pod must listen on its own address, not loopback",
    "GATEWAY_OPS__HOST": "a pod must listen on its own address, not loopback",
    "GATEWAY_WEBHOOKS__FORWARDED_ALLOW_IPS": "callers come through the Ingress controller's pods",
}

# The release's own Secret (secret.create) and NetworkPolicy, beside the topics Job's hooks.
RELEASE_SECRET = RELEASE_POLICY = "vg-gateway"
TOPICS_HOOK = "vg-gateway-topics"

# Values for the render in which every setting is set (where values.yaml has null) and the
# schema alone cannot suggest one.
SAMPLES: dict[str, Any] = {
    "GATEWAY_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
}

# A valid value for every secret setting (a webhook secret must be whsec_<base64>).
SECRET_SAMPLE = "whsec_" + base64.b64encode(b"not-a-real-secret-0123456789").decode()
# Where a secret setting needs its own form (a named sender; one secret, one sender).
SECRET_SAMPLES = {
    "GATEWAY_WEBHOOKS__SENDERS": "crm=whsec_"
    + base64.b64encode(b"not-a-real-sender-secret-0123456789").decode(),
}


def values() -> dict[str, Any]:
    """deploy/helm/gateway/values.yaml."""
    data: dict[str, Any] = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    return data


def production_values() -> dict[str, Any]:
    """deploy/helm/values-production.yaml."""
    data: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))
    return data


def config_leaves() -> list[Leaf]:
    """The settings that belong in ``config`` (not secret, not from the pod itself)."""
    return [leaf for leaf in settings_leaves() if not leaf.secret and leaf.env not in DOWNWARD_API]


def mirrored_leaves() -> list[Leaf]:
    """The config settings that have their values.yaml entry (a missing one fails only
    test_every_setting_has_a_values_entry, which says what to add)."""
    config = values()["config"]
    return [leaf for leaf in config_leaves() if lookup(config, leaf.path) is not _MISSING]


_MISSING = object()


def lookup(tree: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a nested mapping, or ``_MISSING``."""
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return _MISSING
        tree = tree[key]
    return tree


def tree_leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the leaves of a values tree (a non-empty mapping nests)."""
    out: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += tree_leaves(value, (*path, key))
        else:
            out.append((*path, key))
    return out


def env_name(path: tuple[str, ...]) -> str:
    """GATEWAY_ name of a config path."""
    return "GATEWAY_" + "__".join(part.upper() for part in path)


# ---------------------------------------------------------------------------------------
# values.yaml and values.schema.json mirror the settings


def test_leaf_walk_agrees_with_settings_rows() -> None:
    """The chart's view of the settings lists exactly the rows of settings_rows()."""
    assert [leaf.env for leaf in settings_leaves()] == [env for env, _, _ in settings_rows()]


def test_every_setting_has_a_values_entry() -> None:
    """Each setting of gateway/settings.py is in values.yaml: config, secret.keys or pod name."""
    vals = values()
    missing = []
    for leaf in settings_leaves():
        if leaf.env in DOWNWARD_API:
            continue
        if leaf.secret:
            if leaf.env not in vals["secret"]["keys"]:
                missing.append(
                    f"{leaf.env} is a secret: add `{leaf.env}: true` (pods need it) or `false` "
                    "(optional) under secret.keys"
                )
        elif lookup(vals["config"], leaf.path) is _MISSING:
            default = json.dumps(leaf.default)
            missing.append(
                f"{leaf.env}: add `config.{'.'.join(leaf.path)}: {default}` (with its "
                "description as a comment)"
            )
    assert not missing, (
        "settings without an entry in deploy/helm/gateway/values.yaml (then run "
        "`.venv/bin/python -m tests.deploy.chart_settings` to update values.schema.json):\n  "
        + "\n  ".join(missing)
    )


def test_values_have_no_entry_that_is_no_setting() -> None:
    """values.yaml has no stale config or secret entry that the gateway would ignore."""
    vals = values()
    known = {leaf.path for leaf in config_leaves()}
    stale = [
        "config." + ".".join(path)
        for path in tree_leaves(vals["config"])
        if path not in known and path[:1] != ("accounts",)
    ]
    secrets = {leaf.env for leaf in settings_leaves() if leaf.secret}
    stale += [f"secret.keys.{key}" for key in vals["secret"]["keys"] if key not in secrets]
    assert not stale, f"values.yaml entries that are no setting: {stale}"


def test_values_defaults_are_the_gateways() -> None:
    """values.yaml holds the gateway's defaults, except the chart's documented deviations."""
    vals = values()
    differ = []
    for leaf in mirrored_leaves():
        value = lookup(vals["config"], leaf.path)
        if leaf.env in CHART_DEFAULTS:
            assert value != leaf.default, (
                f"{leaf.env} no longer deviates: drop it from CHART_DEFAULTS"
            )
        elif value != leaf.default:
            differ.append(
                f"config.{'.'.join(leaf.path)}: {value!r}, the gateway's is {leaf.default!r}"
            )
    assert not differ, "values.yaml defaults drifted from gateway/settings.py:\n  " + "\n  ".join(
        differ
    )


def test_values_schema_config_is_generated_from_the_settings() -> None:
    """values.schema.json's config section is what the settings models generate."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["properties"]["config"] == config_schema(), (
        "values.schema.json is out of date: run `.venv/bin/python -m tests.deploy.chart_settings`"
    )


# ---------------------------------------------------------------------------------------
# helm lint and helm template


@pytest.mark.parametrize("production", [False, True], ids=["default", "production"])
def test_helm_lint(helm: Path, production: bool) -> None:
    """helm lint --strict passes with the default values and with the production example."""
    args = ["lint", "--strict", str(VALUES.parent)]
    if production:
        args += ["--values", str(PRODUCTION)]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_default_render(render: Render) -> None:
    """Default values: one Deployment per role, the config, Service, PDBs, NetworkPolicy, and
    the topics Job (a hook: test_topics_job_*)."""
    manifests = render()
    kinds = sorted({m["kind"] for m in manifests})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Job",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    assert set(deployments(manifests)) == set(ROLES)
    for role, deployment in deployments(manifests).items():
        assert container(deployment)["args"] == ["run", "--role", role]
    assert {
        pdb["metadata"]["name"] for pdb in by_kind(manifests, "PodDisruptionBudget").values()
    } == {f"vg-gateway-{role}" for role in ROLES}
    assert not by_kind(manifests, "Secret"), "no Secret unless secret.create"


def test_production_render(render: Render) -> None:
    """Production example: HPA for commands, Ingress, ServiceMonitor, rules, no PVC."""
    manifests = render(PRODUCTION)
    kinds = {m["kind"] for m in manifests}
    assert {"HorizontalPodAutoscaler", "Ingress", "ServiceMonitor", "PrometheusRule"} <= kinds
    assert "PersistentVolumeClaim" not in kinds, "the redis backend needs no volume"
    assert "Secret" not in kinds, "production takes an existing Secret"
    for deployment in deployments(manifests).values():
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
            "registry.example.com/"
        )


@pytest.mark.parametrize("role", ROLES)
def test_each_role_can_be_disabled(render: Render, role: str) -> None:
    """`<role>.enabled: false` removes that role's Deployment, PDB and Service."""
    manifests = render(sets={f"{role}.enabled": False})
    assert set(deployments(manifests)) == set(ROLES) - {role}
    names = {m["metadata"]["name"] for m in manifests}
    assert f"vg-gateway-{role}" not in names


def test_commands_workers_reach_the_command_line(render: Render) -> None:
    """`commands.workers: 2` runs two commands processes per pod; the default runs one."""

    def args(manifests: Any) -> list[str]:
        pod = deployments(manifests)["commands"]["spec"]["template"]["spec"]
        return list(pod["containers"][0]["args"])

    assert args(render()) == ["run", "--role", "commands"]
    assert args(render(sets={"commands.workers": 2})) == [
        "run",
        "--role",
        "commands",
        "--workers",
        "2",
    ]


# ---------------------------------------------------------------------------------------
# every setting reaches the containers


def all_set_overrides() -> dict[str, Any]:
    """--set values that give every null config leaf a value its schema accepts."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))["properties"]["config"]
    overrides: dict[str, Any] = {}
    for leaf in mirrored_leaves():
        if lookup(values()["config"], leaf.path) is not None:
            continue
        node = schema
        for key in leaf.path:
            node = node["properties"][key]
        types = node.get("type", [])
        kind = next(t for t in ([types] if isinstance(types, str) else types) if t != "null")
        if leaf.env in SAMPLES:
            sample = SAMPLES[leaf.env]
        elif "enum" in node:
            sample = next(v for v in node["enum"] if v is not None)
        elif kind == "string" and "pattern" not in node:
            sample = f"sample-{leaf.path[-1]}"
        elif kind in {"number", "integer"}:
            sample = max(2, node.get("minimum", 0) + 1)
        elif kind == "boolean":
            sample = True
        else:
            pytest.fail(f"no sample value for {leaf.env} ({node}): add one to SAMPLES")
        overrides["config." + ".".join(leaf.path)] = sample
    return overrides


RENDERS = {
    "default": lambda render: render(),
    "production": lambda render: render(PRODUCTION),
    "every-setting-set": lambda render: render(sets=all_set_overrides()),
}


def secret_envs(manifests_values: dict[str, Any]) -> list[str]:
    """The secret variables the pods should reference for these values."""
    names = list(manifests_values["secret"]["keys"])
    for account in manifests_values["config"].get("accounts") or {}:
        names += [
            f"GATEWAY_ACCOUNTS__{account.upper()}__{key.removeprefix('GATEWAY_VENDOR__')}"
            for key in manifests_values["secret"]["keys"]
            if key.startswith("GATEWAY_VENDOR__")
        ]
    return names


def merged_values(name: str) -> dict[str, Any]:
    """The values of one of RENDERS (values.yaml with its overrides), as a plain tree."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return {k: merge(base.get(k), over[k]) if k in base else over[k] for k in over} | {
                k: v for k, v in base.items() if k not in over
            }
        return over

    vals = values()
    if name == "production":
        return dict(merge(vals, production_values()))
    if name == "every-setting-set":
        for dotted, value in all_set_overrides().items():
            node = vals
            *parents, last = dotted.split(".")
            for key in parents:
                node = node[key]
            node[last] = value
    return vals


@pytest.mark.parametrize("name", list(RENDERS))
def test_every_setting_reaches_the_container_env(render: Render, name: str) -> None:
    """Every setting set in values is in each role's env under its GATEWAY_ name."""
    manifests = RENDERS[name](render)
    vals = merged_values(name)
    for role, deployment in deployments(manifests).items():
        env = effective_env(manifests, deployment)
        missing = []
        for leaf in mirrored_leaves():
            value = lookup(vals["config"], leaf.path)
            present = leaf.env in env or any(k.startswith(leaf.env + "__") for k in env)
            if value is None:
                assert not present, f"{role}: {leaf.env} is null in values but set in the pod"
            elif not present:
                missing.append(leaf.env)
        assert not missing, f"{role} ({name}): settings not in the container env: {missing}"
        for env_var, field_path in DOWNWARD_API.items():
            assert env[env_var] == {"valueFrom": {"fieldRef": {"fieldPath": field_path}}}
        for secret in secret_envs(vals):
            assert secret in env, f"{role}: secret setting {secret} is not referenced"
            assert set(env[secret]) == {"valueFrom"}, f"{role}: {secret} must come from the Secret"


def parsed(settings: BaseModel | dict[str, Any], path: tuple[str, ...]) -> Any:
    """The JSON form of the setting at ``path`` in a parsed GatewaySettings."""
    node: Any = settings
    for key in path:
        node = node[key] if isinstance(node, dict) else getattr(node, key)
    if isinstance(node, BaseModel):
        return node.model_dump(mode="json")
    return TypeAdapter(type(node)).dump_python(node, mode="json")


def is_subset(expected: Any, actual: Any) -> bool:
    """Whether every key of ``expected`` is in ``actual`` with an equal value (recursively)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and is_subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


@pytest.mark.parametrize("name", list(RENDERS))
def test_rendered_env_is_read_by_the_gateway(
    render: Render, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GatewaySettings, given a pod's env, holds exactly the values of values.yaml."""
    manifests = RENDERS[name](render)
    vals = merged_values(name)
    env = effective_env(manifests, deployments(manifests)["commands"])
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    for key, source in env.items():
        if "value" in source:
            monkeypatch.setenv(key, source["value"])
        elif "secretKeyRef" in source["valueFrom"]:
            monkeypatch.setenv(key, SECRET_SAMPLES.get(key, SECRET_SAMPLE))
        else:
            monkeypatch.setenv(key, "vg-gateway-commands-5d9c7-abcde")
    settings = GatewaySettings()
    assert settings.instance_id == "vg-gateway-commands-5d9c7-abcde"
    wrong = []
    for leaf in mirrored_leaves():
        expected = lookup(vals["config"], leaf.path)
        expected = leaf.default if expected is None else expected
        actual = parsed(settings, leaf.path)
        if not is_subset(expected, actual):
            wrong.append(f"{leaf.env}: values {expected!r}, gateway read {actual!r}")
    assert not wrong, "\n".join(wrong)
    for secret in secret_envs(vals):
        assert secret in env


# ---------------------------------------------------------------------------------------
# secrets


SENTINEL = "whsec_" + base64.b64encode(b"sentinel-do-not-inline-0123456789").decode()


def test_secrets_are_referenced_never_inlined(render: Render) -> None:
    """Secret values appear only in the chart-made Secret; pods use secretKeyRef to it."""
    keys = values()["secret"]["keys"]
    manifests = render(sets={"secret.create": True, "secret.values": dict.fromkeys(keys, SENTINEL)})
    secret = by_kind(manifests, "Secret")[RELEASE_SECRET]
    assert set(secret["stringData"]) == set(keys)
    for manifest in manifests:
        if manifest["kind"] != "Secret":
            assert SENTINEL not in json.dumps(manifest), f"{manifest['kind']} inlines a secret"
    (configmap,) = by_kind(manifests, "ConfigMap").values()
    assert not set(keys) & set(configmap["data"]), "a secret setting is in the ConfigMap"
    for role, deployment in deployments(manifests).items():
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container(deployment)["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert set(refs) == set(keys), role
        for env, ref in refs.items():
            assert ref["name"] == secret["metadata"]["name"]
            assert ref["key"] == env
            assert ref["optional"] is not keys[env]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert "checksum/secret" in annotations, "pods roll when the chart-made Secret changes"


def test_existing_secret_is_referenced_by_name(render: Render) -> None:
    """With secret.existingSecret the chart makes no Secret and the pods name that one."""
    manifests = render(PRODUCTION)
    assert not by_kind(manifests, "Secret")
    for deployment in deployments(manifests).values():
        names = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in container(deployment)["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert names == {"vendor-gateway-secrets"}


def test_no_secret_setting_in_config_schema() -> None:
    """The config schema has no secret setting, so a secret cannot be put into config."""
    schema = config_schema()
    for leaf in settings_leaves():
        if not leaf.secret:
            continue
        node = schema
        for key in leaf.path[:-1]:
            node = node["properties"][key]
        assert leaf.path[-1] not in node["properties"], f"{leaf.env} is in the config schema"
        assert node["additionalProperties"] is False


# ---------------------------------------------------------------------------------------
# pods: security, probes, resources, spreading, shutdown


@pytest.mark.parametrize("name", list(RENDERS))
def test_security_context(render: Render, name: str) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped."""
    manifests = RENDERS[name](render)
    for role, deployment in deployments(manifests).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, role
        assert pod["securityContext"]["runAsUser"] > 0, role
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, role
        assert pod["automountServiceAccountToken"] is False, role
        ctx = container(deployment)["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True, role
        assert ctx["allowPrivilegeEscalation"] is False, role
        assert ctx["privileged"] is False, role
        assert ctx["capabilities"]["drop"] == ["ALL"], role
        assert "add" not in ctx["capabilities"], role
        # With a read-only root, everything written must be on a volume.
        mounts = {m["mountPath"] for m in container(deployment)["volumeMounts"]}
        assert "/tmp" in mounts, role  # noqa: S108 (the pod's mount, not a temporary file)
        sqlite = Path(merged_values(name)["config"]["idempotency"]["sqlite_path"])
        assert any(sqlite.is_relative_to(m) for m in mounts), f"{role}: {sqlite} is not on a volume"


def probe_paths(deployment: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """probe kind -> (path, port) of the container's HTTP probes."""
    spec = container(deployment)
    return {
        kind: (spec[kind]["httpGet"]["path"], spec[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in spec
    }


# gateway/app/readiness.py: /readyz on the operations port runs its checks (kafka, vendor) at
# once, 5 s each at most.
OPS_READYZ_WORST_S = 5


@pytest.mark.parametrize("name", list(RENDERS))
def test_probes(render: Render, name: str) -> None:
    """Startup and liveness on /healthz, readiness on /readyz, every role on the ops port
    (the webhooks API port serves no /readyz)."""
    manifests = RENDERS[name](render)
    config = merged_values(name)["config"]
    for role, deployment in deployments(manifests).items():
        spec = container(deployment)
        assert probe_paths(deployment) == {
            "startupProbe": ("/healthz", "ops"),
            "livenessProbe": ("/healthz", "ops"),
            "readinessProbe": ("/readyz", "ops"),
        }, role
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        expected = {"ops": config["ops"]["port"]}
        if role == "webhooks":
            expected["http"] = config["webhooks"]["port"]
        assert ports == expected, role
        # The probe must outwait /readyz's own checks.
        assert spec["readinessProbe"]["timeoutSeconds"] > OPS_READYZ_WORST_S, role


def test_without_ops_endpoint(render: Render) -> None:
    """config.ops.enabled false: commands and poller lose probes and ports; webhooks keeps http
    and its /healthz probes, but has no readiness probe (/readyz is on the ops port only)."""
    manifests = render(sets={"config.ops.enabled": False})
    for role, deployment in deployments(manifests).items():
        if role == "webhooks":
            assert probe_paths(deployment) == {
                "startupProbe": ("/healthz", "http"),
                "livenessProbe": ("/healthz", "http"),
            }
            assert [p["name"] for p in container(deployment)["ports"]] == ["http"]
        else:
            assert probe_paths(deployment) == {}, role
            assert "ports" not in container(deployment), role
    with pytest.raises(RenderError, match=re.escape("need config.ops.enabled")):
        render(sets={"config.ops.enabled": False, "metrics.serviceMonitor.enabled": True})


@pytest.mark.parametrize("name", list(RENDERS))
def test_resources_spread_and_shutdown(render: Render, name: str) -> None:
    """Requests and memory limits, topology spread per role, grace above the role's own."""
    manifests = RENDERS[name](render)
    config = merged_values(name)["config"]
    for role, deployment in deployments(manifests).items():
        pod = deployment["spec"]["template"]["spec"]
        resources = container(deployment)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), role
        assert "memory" in resources["limits"], role
        spread = pod["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
        for constraint in spread:
            selector = constraint["labelSelector"]["matchLabels"]
            assert selector["app.kubernetes.io/component"] == role
        own = (
            config["webhooks"]["shutdown_grace_s"]
            if role == "webhooks"
            else config["commands"]["grace_period_s"]
        )
        assert pod["terminationGracePeriodSeconds"] > own, role


def _tmp_size_limit(deployment: dict[str, Any]) -> int:
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (tmp,) = [v for v in volumes if v["name"] == "tmp"]
    return int(tmp["emptyDir"]["sizeLimit"])


def test_tmp_holds_the_upload_spool(render: Render) -> None:
    """With source_url on, the commands pods' /tmp has room for every spooled download."""
    mib = 1024 * 1024
    assert _tmp_size_limit(deployments(render())["commands"]) == 64 * mib
    manifests = render(
        sets={
            "config.commands.upload_source_hosts": ["files.example.com"],
            "config.commands.upload_concurrency": 3,
            "networkPolicy.egress.uploadSources": [{"cidr": "203.0.113.0/24", "ports": [443]}],
        }
    )
    sized = deployments(manifests)
    assert _tmp_size_limit(sized["commands"]) == 64 * mib + 3 * 52428800
    assert _tmp_size_limit(sized["webhooks"]) == 64 * mib  # only the commands role uploads


def test_poller_runs_two_replicas_one_active() -> None:
    """The poller defaults to 2 replicas and values.yaml says one is active, one standby."""
    text = VALUES.read_text(encoding="utf-8")
    assert values()["poller"]["replicas"] == 2
    block = text[text.index("\npoller:") : text.index("\n  replicas: 2", text.index("\npoller:"))]
    assert "one is active" in block
    assert "standby" in block


def test_config_change_rolls_the_pods(render: Render) -> None:
    """The pod template carries the ConfigMap's checksum, so a setting change restarts pods."""
    before = deployments(render())["commands"]
    after = deployments(render(sets={"config.log_level": "DEBUG"}))["commands"]
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_endpoint_rate_limits_are_one_json_value(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rate_limit.endpoints is keyed by vendor paths: one JSON variable (a ConfigMap key cannot
    hold a "/"), which the gateway reads back, also for a further account."""
    endpoints = {"/room/get_statistic": 5, "/room/list": 2.5}
    manifests = render(
        sets={
            "config.vendor.rate_limit.endpoints": endpoints,
            "config.accounts": {"emea": {"rate_limit": {"endpoints": endpoints}}},
        }
    )
    (configmap,) = by_kind(manifests, "ConfigMap").values()
    data = configmap["data"]
    assert not [key for key in data if "/" in key]
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    for prefix in ("GATEWAY_VENDOR", "GATEWAY_ACCOUNTS__EMEA"):
        value = data[f"{prefix}__RATE_LIMIT__ENDPOINTS"]
        assert json.loads(value) == endpoints
        monkeypatch.setenv(f"{prefix}__RATE_LIMIT__ENDPOINTS", value)
    settings = GatewaySettings()
    emea = settings.account("emea")
    assert emea is not None
    assert settings.vendor.rate_limit.endpoints == emea.rate_limit.endpoints == endpoints


# ---------------------------------------------------------------------------------------
# scaling, disruption, network, ingress, monitoring


def test_commands_hpa_on_cpu(render: Render) -> None:
    """Production: the commands Deployment is scaled by an HPA on CPU and has no replicas."""
    manifests = render(PRODUCTION)
    (hpa,) = by_kind(manifests, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "vg-gateway-commands",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "replicas" not in deployments(manifests)["commands"]["spec"]
    assert deployments(manifests)["commands"]["spec"]["strategy"]["type"] == "RollingUpdate"


def test_keda_scaledobject_example(render: Render) -> None:
    """commands.keda renders a ScaledObject on the consumer group's lag of the commands topic."""
    manifests = render(
        PRODUCTION,
        sets={"commands.autoscaling.enabled": False, "commands.keda.enabled": True},
    )
    assert not by_kind(manifests, "HorizontalPodAutoscaler")
    (scaled,) = by_kind(manifests, "ScaledObject").values()
    (trigger,) = scaled["spec"]["triggers"]
    kafka = production_values()["config"]["kafka"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == "vendor.commands"
    assert trigger["metadata"]["consumerGroup"] == "vendor-gateway"
    assert trigger["metadata"]["bootstrapServers"] == kafka["bootstrap_servers"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "vg-gateway-commands"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"commands.replicas": 2}, "needs config.idempotency.backend=redis"),
        ({"commands.autoscaling.enabled": True}, "needs config.idempotency.backend=redis"),
        ({"config.idempotency.backend": "redis"}, "secret.keys.GATEWAY_REDIS__URL: true"),
        ({"config.redis.url": "redis://:pw@redis:6379/0"}, "redis"),
        ({"networkPolicy.egress.kafka": []}, "networkPolicy.egress.kafka is empty"),
        ({"networkPolicy.egress.vendor": []}, "networkPolicy.egress.vendor is empty"),
        ({"secret.keys.GATEWAY_REDIS__URL": True}, "networkPolicy.egress.redis is empty"),
        ({"networkPolicy.egress.vendor": [{"cidr": "203.0.113.0/24"}]}, "ports"),
        ({"networkPolicy.egress.vendor": [{"host": "vc.example.com", "ports": [443]}]}, "host"),
        (
            {"config.commands.upload_source_hosts": ["files.example.com"]},
            "networkPolicy.egress.uploadSources is empty",
        ),
        ({"webhooks.replicas": 2}, "replay guard is per replica"),
        ({"config.webhooks.host": "127.0.0.1"}, "must be 0.0.0.0"),
        ({"config.ops.host": "127.0.0.1"}, "must be 0.0.0.0"),
        ({"config.ops.port": 8080}, "must differ"),
        ({"secret.existingSecret": "x", "secret.create": True}, "exclude each other"),
        ({"config.kafka.bootstrap_serverz": "typo:9092"}, "bootstrap_serverz"),
        ({"config.vendor.rate_limit.burst": 1}, "burst"),
        ({"config.vendor.access_key": "inline"}, "access_key"),
    ],
    ids=[
        "sqlite-replicas",
        "sqlite-hpa",
        "redis-without-url",
        "redis-url-in-config",
        "egress-no-kafka",
        "egress-no-vendor",
        "egress-no-redis",
        "egress-no-ports",
        "egress-hostname",
        "upload-hosts-without-cidrs",
        "webhooks-replicas",
        "loopback-host",
        "loopback-ops",
        "same-ports",
        "two-secrets",
        "typo",
        "constraint",
        "secret-in-config",
    ],
)
def test_unsupported_values_are_refused(render: Render, sets: dict[str, Any], message: str) -> None:
    """Values the gateway cannot run with fail at render time with a message saying why."""
    with pytest.raises(RenderError, match=re.escape(message)):
        render(sets=sets)


def test_keda_and_hpa_exclude_each_other(render: Render) -> None:
    """KEDA owns its HPA: enabling both is refused."""
    with pytest.raises(RenderError, match="exclude each other"):
        render(PRODUCTION, sets={"commands.keda.enabled": True})


def test_pdbs_allow_one_disruption(render: Render) -> None:
    """Each role has a PDB allowing one pod down, selecting only that role's pods."""
    for pdb in by_kind(render(PRODUCTION), "PodDisruptionBudget").values():
        assert pdb["spec"]["maxUnavailable"] == 1
        role = pdb["metadata"]["labels"]["app.kubernetes.io/component"]
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == role


@pytest.mark.parametrize("name", ["default", "production"])
def test_network_policy_opens_only_api_and_ops(render: Render, name: str) -> None:
    """Ingress: the API port and the ops port only, each from named sources (never "any":
    a rule without `from` would admit everyone); egress restricted by default."""
    policy = by_kind(RENDERS[name](render), "NetworkPolicy")[RELEASE_POLICY]
    rules = policy["spec"]["ingress"]
    assert [rule["ports"] for rule in rules] == [
        [{"port": "http", "protocol": "TCP"}],
        [{"port": "ops", "protocol": "TCP"}],
    ]
    assert all(rule["from"] for rule in rules), "every ingress rule names who may connect"
    namespaces = [r["from"][0]["namespaceSelector"]["matchLabels"] for r in rules]
    assert namespaces == [
        {"kubernetes.io/metadata.name": "ingress-nginx"},
        {"kubernetes.io/metadata.name": "monitoring"},
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress = policy["spec"]["egress"]
    assert {"port": 53, "protocol": "UDP"} in egress[0]["ports"], "DNS first"
    assert all(rule.get("to") and rule["ports"] for rule in egress), "no rule open to all"


def test_empty_sources_mean_nobody(render: Render) -> None:
    """apiFrom / opsFrom empty: the port gets no ingress rule at all, so nobody may connect
    (before, an empty list rendered a rule without `from`: everybody)."""
    policy = by_kind(
        render(sets={"networkPolicy.apiFrom": [], "networkPolicy.opsFrom": []}), "NetworkPolicy"
    )[RELEASE_POLICY]
    assert policy["spec"]["policyTypes"][0] == "Ingress"
    assert not policy["spec"].get("ingress"), policy["spec"].get("ingress")
    policy = by_kind(render(sets={"networkPolicy.apiFrom": []}), "NetworkPolicy")[RELEASE_POLICY]
    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == ["ops"]


def test_egress_allows_only_dns_kafka_redis_vendor_and_upload_sources(render: Render) -> None:
    """Each egress target becomes rules of CIDRs or selectors and ports, nothing else."""
    sets = {
        "config.idempotency.backend": "redis",
        "secret.keys.GATEWAY_REDIS__URL": True,
        "networkPolicy.egress.kafka": [
            {"cidr": "10.20.0.0/24", "ports": [9092, {"port": 9093, "protocol": "TCP"}]}
        ],
        "networkPolicy.egress.redis": [
            {"podSelector": {"matchLabels": {"app": "redis"}}, "ports": [6379]}
        ],
        "networkPolicy.egress.vendor": [{"cidr": "203.0.113.10/32", "ports": [443]}],
        "networkPolicy.egress.uploadSources": [
            {"cidr": "198.51.100.0/24", "except": ["198.51.100.1/32"], "ports": [443]}
        ],
    }
    policy = by_kind(render(sets=sets), "NetworkPolicy")[RELEASE_POLICY]
    egress = policy["spec"]["egress"]
    assert egress[1:] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}],
            "ports": [{"port": 9092, "protocol": "TCP"}, {"port": 9093, "protocol": "TCP"}],
        },
        {
            "to": [{"podSelector": {"matchLabels": {"app": "redis"}}}],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        },
        {
            "to": [{"ipBlock": {"cidr": "203.0.113.10/32"}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        },
        {
            "to": [{"ipBlock": {"cidr": "198.51.100.0/24", "except": ["198.51.100.1/32"]}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        },
    ]
    (policy,) = by_kind(
        render(sets={"networkPolicy.egress.enabled": False}), "NetworkPolicy"
    ).values()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]


def test_ingress_publishes_only_the_api(render: Render) -> None:
    """The Ingress routes /v1 to the webhooks Service; health and metrics stay internal."""
    manifests = render(PRODUCTION)
    (ingress,) = by_kind(manifests, "Ingress").values()
    service = by_kind(manifests, "Service")["vg-gateway-webhooks"]
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["path"].startswith("/v1"), path
            assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "webhooks"


def test_service_monitor_scrapes_every_pod(render: Render) -> None:
    """The ServiceMonitor scrapes /metrics on the ops port of every pod, via a headless Service."""
    manifests = render(PRODUCTION)
    (monitor,) = by_kind(manifests, "ServiceMonitor").values()
    metrics = by_kind(manifests, "Service")["vg-gateway-metrics"]
    assert metrics["spec"]["clusterIP"] == "None"
    assert "app.kubernetes.io/component" not in metrics["spec"]["selector"], "every role"
    assert metrics["spec"]["ports"][0]["targetPort"] == "ops"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("ops", "/metrics")
    assert endpoint["honorLabels"] is True, "the gateway's `endpoint` label must survive"
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        assert metrics["metadata"]["labels"][key] == value


def test_commands_sqlite_keeps_one_pod_and_its_volume(render: Render) -> None:
    """Default (sqlite): commands is replaced with Recreate and keeps its file on a PVC."""
    manifests = render()
    commands = deployments(manifests)["commands"]
    assert commands["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in commands["spec"]["template"]["spec"]["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    assert claim in by_kind(manifests, "PersistentVolumeClaim")


def test_image_by_digest(render: Render) -> None:
    """image.digest pins every pod's image as repository@digest (the tag is then ignored)."""
    digest = "sha256:" + "0123456789abcdef" * 4
    manifests = render(PRODUCTION, sets={"image.digest": digest})
    for deployment in deployments(manifests).values():
        image = container(deployment)["image"]
        assert image == f"registry.example.com/platform/vendor-gateway@{digest}"
    with pytest.raises(RenderError, match="digest"):
        render(sets={"image.digest": "latest"})


# ---------------------------------------------------------------------------------------
# the topics Job: `gateway topics ensure` as a pre-install/pre-upgrade hook


def topics_job(manifests: Any) -> dict[str, Any]:
    """The topics Job of rendered manifests."""
    job: dict[str, Any] = by_kind(manifests, "Job")[TOPICS_HOOK]
    return job


def job_container(job: dict[str, Any]) -> dict[str, Any]:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    assert only["name"] == "topics"
    return dict(only)


def job_env(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> {"value"} or {"valueFrom"} of the Job's container."""
    container = job_container(job)
    assert "envFrom" not in container, "the ConfigMap is made after pre-install hooks"
    return {e["name"]: {k: v for k, v in e.items() if k != "name"} for e in container["env"]}


def secret_refs(env: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: source["valueFrom"]["secretKeyRef"]
        for name, source in env.items()
        if "secretKeyRef" in source.get("valueFrom", {})
    }


def hook_weight(manifest: dict[str, Any]) -> int:
    return int(manifest["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_topics_job_runs_ensure_before_install_and_upgrade(render: Render) -> None:
    """The Job runs `gateway topics ensure` as a pre-install and pre-upgrade hook, replaced
    on the next run and deleted once it succeeded; `topics.alter` adds --alter, and
    `topics.ensure: false` renders no hook at all."""
    manifests = render()
    job = topics_job(manifests)
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert job_container(job)["args"] == ["topics", "ensure"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["activeDeadlineSeconds"] > 0
    # The release's ServiceAccount does not exist yet when a pre-install hook runs.
    assert "serviceAccountName" not in pod
    hooks = [m for m in manifests if "helm.sh/hook" in m["metadata"].get("annotations", {})]
    assert {(m["kind"], m["metadata"]["name"]) for m in hooks} == {
        ("NetworkPolicy", TOPICS_HOOK),
        ("Job", TOPICS_HOOK),
    }
    assert all(hook_weight(m) < hook_weight(job) for m in hooks if m is not job)
    assert job_container(topics_job(render(sets={"topics.alter": True})))["args"] == [
        "topics",
        "ensure",
        "--alter",
    ]
    off = render(sets={"topics.ensure": False})
    assert TOPICS_HOOK not in {m["metadata"]["name"] for m in off}
    existing_sa = topics_job(
        render(sets={"serviceAccount.create": False, "serviceAccount.name": "kafka-admin"})
    )
    assert existing_sa["spec"]["template"]["spec"]["serviceAccountName"] == "kafka-admin"


@pytest.mark.parametrize("name", list(RENDERS))
def test_topics_job_reads_the_kafka_settings_of_the_pods(
    render: Render, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Job's env gives the gateway the same Kafka settings (brokers, security, topic names,
    partitions, replication) and poller topic names as the commands pods', and mounts the
    same extra volumes (a CA bundle for config.kafka.ssl_cafile)."""
    manifests = RENDERS[name](render)
    job = topics_job(manifests)

    def read(env: dict[str, dict[str, Any]]) -> GatewaySettings:
        for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
            monkeypatch.delenv(key)
        for key, source in env.items():
            if "value" in source:
                monkeypatch.setenv(key, source["value"])
            elif "secretKeyRef" in source["valueFrom"]:
                monkeypatch.setenv(key, SECRET_SAMPLES.get(key, SECRET_SAMPLE))
        return GatewaySettings()

    ran = read(job_env(job))
    pods = read(effective_env(manifests, deployments(manifests)["commands"]))
    assert ran.kafka == pods.kafka
    assert (ran.poller.lease_topic, ran.poller.state_topic) == (
        pods.poller.lease_topic,
        pods.poller.state_topic,
    )
    assert not {
        k for k in job_env(job) if not k.startswith(("GATEWAY_KAFKA__", "GATEWAY_POLLER__"))
    }
    pod = job["spec"]["template"]["spec"]
    extra = merged_values(name)["extraVolumeMounts"]
    assert all(mount in job_container(job)["volumeMounts"] for mount in extra)
    assert all(volume in pod["volumes"] for volume in merged_values(name)["extraVolumes"])
    commands = container(deployments(manifests)["commands"])
    assert job_container(job)["image"] == commands["image"]


def test_topics_job_takes_kafka_secrets_from_the_secret(render: Render) -> None:
    """The Kafka secrets reach the Job by secretKeyRef only: from the existing Secret, or, as
    a chart-made Secret is made after pre-install hooks, from a hook copy of its Kafka keys."""
    refs = secret_refs(job_env(topics_job(render(PRODUCTION))))
    assert refs == {
        "GATEWAY_KAFKA__SASL_PASSWORD": {
            "name": "vendor-gateway-secrets",
            "key": "GATEWAY_KAFKA__SASL_PASSWORD",
            "optional": False,
        }
    }
    keys = values()["secret"]["keys"]
    manifests = render(sets={"secret.create": True, "secret.values": dict.fromkeys(keys, SENTINEL)})
    copy = by_kind(manifests, "Secret")[TOPICS_HOOK]
    job = topics_job(manifests)
    assert copy["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook_weight(copy) < hook_weight(job)
    kafka_keys = {k for k in keys if k.startswith("GATEWAY_KAFKA__")}
    assert set(copy["stringData"]) == kafka_keys, "only what the Job needs"
    refs = secret_refs(job_env(job))
    assert set(refs) == kafka_keys
    assert {ref["name"] for ref in refs.values()} == {TOPICS_HOOK}
    assert SENTINEL not in json.dumps(job)


def test_topics_job_pod_is_locked_down_and_reaches_only_dns_and_kafka(render: Render) -> None:
    """The Job's pod runs like the gateway's (non-root, read-only root, nothing added) and its
    own NetworkPolicy, made before it, lets it reach DNS and the brokers only; the release's
    policy selects it too (on upgrades it exists already)."""
    manifests = render()
    job = topics_job(manifests)
    pod = job["spec"]["template"]["spec"]
    vals = values()
    assert pod["securityContext"] == vals["podSecurityContext"]
    assert pod["automountServiceAccountToken"] is False
    ctx = job_container(job)["securityContext"]
    assert ctx == vals["securityContext"]
    assert {m["mountPath"] for m in job_container(job)["volumeMounts"]} == {"/tmp"}  # noqa: S108
    labels = job["spec"]["template"]["metadata"]["labels"]
    policies = by_kind(manifests, "NetworkPolicy")
    own, release = policies[TOPICS_HOOK], policies[RELEASE_POLICY]
    for policy in (own, release):
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert own["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert own["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert not own["spec"].get("ingress"), "nothing connects to the Job"
    assert own["spec"]["egress"] == release["spec"]["egress"][:2], "DNS and Kafka, as the pods'"
    kafka = [{"cidr": "10.20.0.0/24", "ports": [9093]}]
    egress = by_kind(render(sets={"networkPolicy.egress.kafka": kafka}), "NetworkPolicy")[
        TOPICS_HOOK
    ]["spec"]["egress"]
    assert egress[1:] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}],
            "ports": [{"port": 9093, "protocol": "TCP"}],
        }
    ]
    assert TOPICS_HOOK not in by_kind(
        render(sets={"networkPolicy.enabled": False}), "NetworkPolicy"
    )
