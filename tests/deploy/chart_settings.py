"""The gateway's settings as the Helm chart sees them: leaves, secrets, and the values schema.

The chart's ``config`` values tree mirrors ``GatewaySettings`` key for key (snake_case, as in
the settings models), so ``config.kafka.bootstrap_servers`` becomes the container variable
``GATEWAY_KAFKA__BOOTSTRAP_SERVERS``. Secret settings (``SecretStr``) never sit in that tree:
they are listed under ``secret.keys`` and reach the pods from a Secret. The tests in
``test_chart.py`` derive everything from the models at test time, so a setting added to
``gateway/settings.py`` without a values entry fails them with a message naming the entry.

``config`` in ``values.schema.json`` is generated from the models; after changing settings:

    .venv/bin/python -m tests.deploy.chart_settings     # rewrites properties.config
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter

from gateway.settings import GatewaySettings

__all__ = [
    "CHART",
    "DOWNWARD_API",
    "SCHEMA",
    "VALUES",
    "Leaf",
    "config_schema",
    "settings_leaves",
    "write_schema",
]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "gateway"
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"

# Settings the chart fills from the pod itself rather than from values.
DOWNWARD_API = {
    # Unique and stable for the pod's life: names the Kafka transactions of its replica.
    "GATEWAY_INSTANCE_ID": "metadata.name",
}


@dataclass(frozen=True)
class Leaf:
    """One setting as ``settings_rows()`` lists it, with its place in the values tree."""

    env: str
    path: tuple[str, ...]
    default: Any  # JSON-compatible, as YAML would hold it
    secret: bool


def _is_model(annotation: Any) -> bool:
    # Same rule as gateway.app.settings_table.settings_rows: only a plain model class nests.
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(arg) for arg in typing.get_args(annotation))


def settings_leaves(
    model: type[BaseModel] = GatewaySettings,
    prefix: str = "GATEWAY_",
    path: tuple[str, ...] = (),
) -> list[Leaf]:
    """Every leaf setting, in ``settings_rows()`` order, with its default and secrecy."""
    leaves: list[Leaf] = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        if _is_model(field.annotation):
            leaves += settings_leaves(field.annotation, f"{env}__", (*path, name))  # type: ignore[arg-type]
            continue
        secret = _mentions_secret(field.annotation)
        default: Any = None
        if not secret:
            value = field.get_default(call_default_factory=True)
            default = TypeAdapter(field.annotation).dump_python(value, mode="json")
        leaves.append(Leaf(env, (*path, name), default, secret))
    return leaves


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            return _inline_refs(target, defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _clean(node: Any) -> Any:
    """Pydantic's JSON Schema, minus what does not belong in a values schema."""
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    # title is noise; default lives in values.yaml (the chart may deviate, see the tests);
    # format "path" is pydantic's own and no validator knows it.
    out = {k: _clean(v) for k, v in node.items() if k not in {"title", "default", "$defs"}}
    if out.get("format") == "path":
        del out["format"]
    if out.get("writeOnly"):
        del out["writeOnly"]
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of and len(any_of) == 2:
        (other,) = [s for s in any_of if s != {"type": "null"}]
        if "type" in other and isinstance(other["type"], str):
            # Bounds (exclusiveMinimum, ...) apply to numbers only, so they may stay beside
            # the nullable type.
            del out["anyOf"]
            out = {**other, "type": [other["type"], "null"], **out}
    return out


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    full = model.model_json_schema()
    defs = full.get("$defs", {})
    properties: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if _mentions_secret(field.annotation):
            continue  # secrets come from the Secret (values: secret.keys), never from config
        if model is GatewaySettings and f"GATEWAY_{name.upper()}" in DOWNWARD_API:
            continue
        if _is_model(field.annotation):
            sub = _model_schema(field.annotation)  # type: ignore[arg-type]
            if field.description:
                sub = {"description": field.description, **sub}
            properties[name] = sub
            continue
        prop = _inline_refs(full["properties"][name], defs)
        origin = typing.get_origin(field.annotation)
        args = typing.get_args(field.annotation)
        if origin is dict and len(args) == 2 and _is_model(args[1]):
            # e.g. accounts: {name: VendorSettings}; secrets of each are in secret.keys too
            prop = {
                "type": "object",
                "description": field.description or "",
                "additionalProperties": _model_schema(args[1]),
            }
        properties[name] = _clean(prop)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if model.__doc__ and model is not GatewaySettings:
        schema["description"] = model.__doc__.strip().splitlines()[0]
    schema["properties"] = properties
    return schema


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the chart's ``config`` values: every non-secret setting."""
    schema = _model_schema(GatewaySettings)
    schema["description"] = (
        "The gateway's settings (gateway/settings.py), key for key; each leaf becomes the "
        "container variable GATEWAY_<PATH> (upper case, '__' between levels); null leaves "
        "are not set (the gateway's default applies). Generated: python -m "
        "tests.deploy.chart_settings"
    )
    return schema


def write_schema(path: Path = SCHEMA) -> bool:
    """Replace ``properties.config`` of the chart's values schema; True if it changed."""
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    schema["properties"]["config"] = config_schema()
    new = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    changed = write_schema()
    print(f"{SCHEMA.relative_to(ROOT)} {'updated' if changed else 'already up to date'}")
