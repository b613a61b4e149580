"""`gateway schemas`: JSON Schemas of the wire contracts and an AsyncAPI document.

Writes ``schemas/``: ``envelope.schema.json``, ``commands/<Type>.schema.json`` (each command's
payload), ``events/result.schema.json``, ``events/<name>.schema.json`` (each poller
change event), ``asyncapi.json`` and ``openapi.json`` (the
webhook ingress's HTTP API). The AsyncAPI document comes
from FastStream: a broker that declares the role's channels with their message models (the
loop itself runs on aiokafka, see ``gateway/commands/consumer.py``). ``--check`` fails on drift.

A built wheel carries a copy of the repository's ``schemas/`` as package data,
``gateway/published_schemas/`` (pyproject.toml, ``[tool.hatch.build.targets.wheel]``): an
installed ``gateway schemas --check`` run where there is no ``schemas/`` checks that copy
against the installed models (:func:`schemas_to_check`).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from gateway import __version__
from gateway.commands.upload import FileUploadPayload
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.events import CHANGE_EVENTS, ResultEvent
from gateway.settings import KafkaSettings
from gateway.vendor_api import BY_COMMAND
from gateway.webhooks.openapi import openapi_document

__all__ = [
    "DEFAULT_DIR",
    "PACKAGED_SCHEMAS",
    "SchemaCopy",
    "asyncapi_document",
    "check_schemas",
    "packaged_schemas",
    "render_schemas",
    "schemas_to_check",
    "write_schemas",
]

# Where a built wheel keeps its copy of schemas/, inside the ``gateway`` package.
PACKAGED_SCHEMAS = "published_schemas"
# Where `gateway schemas` writes, and what --check checks when it exists.
DEFAULT_DIR = "schemas"


def _dump(schema: Any) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def asyncapi_document(kafka: KafkaSettings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the gateway's topics."""
    kafka = kafka or KafkaSettings()
    broker = KafkaBroker(kafka.bootstrap_servers)
    broker.publisher(
        kafka.results_topic,
        schema=ResultEvent,
        title="results",
        description="One result CloudEvent per command, keyed like the command.",
    )
    broker.publisher(
        kafka.events_topic,
        # One of the seven event models (a union documents each one's data).
        schema=functools.reduce(operator.or_, CHANGE_EVENTS.values()),
        title="events",
        description=(
            "Poller change events (CloudEvents, type <prefix>.<name>: "
            + ", ".join(CHANGE_EVENTS)
            + "), keyed by room_id (server_id for media-server events)."
        ),
    )
    broker.publisher(
        kafka.dlq_topic,
        title="dead letters",
        description="Bytes that are no envelope: original key, value, headers, plus dlq-* headers.",
    )

    @broker.subscriber(
        kafka.commands_topic,
        title="commands",
        description="Command envelopes (plain JSON or CloudEvents), keyed by the entity id.",
    )
    async def commands(envelope: CommandEnvelope) -> None:  # pragma: no cover - documentation only
        """Handled by the commands role."""

    spec = AsyncAPI(
        broker,
        title="vendor-gateway",
        version=__version__,
        description="Kafka contract of the vendor gateway.",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def render_schemas() -> dict[str, str]:
    """Every file of ``schemas/`` by relative path."""
    files = {
        "envelope.schema.json": _dump(CommandEnvelope.model_json_schema()),
        "events/result.schema.json": _dump(ResultEvent.model_json_schema()),
        **{
            f"events/{name}.schema.json": _dump(model.model_json_schema())
            for name, model in CHANGE_EVENTS.items()
        },
        "asyncapi.json": _dump(asyncapi_document()),
        "openapi.json": _dump(openapi_document()),
    }
    for command_type, endpoint in sorted(BY_COMMAND.items()):
        model = FileUploadPayload if command_type == "FileUpload" else endpoint.request_model
        schema = model.model_json_schema()
        schema["title"] = command_type
        schema["description"] = (
            f"Payload of {command_type} ({endpoint.kind}, vendor {endpoint.path})."
        )
        files[f"commands/{command_type}.schema.json"] = _dump(schema)
    return files


def write_schemas(root: Path) -> list[str]:
    """Write the files that changed; returns their paths."""
    changed = []
    for rel, text in render_schemas().items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def _at(root: Traversable, rel: str) -> Traversable:
    return functools.reduce(operator.truediv, rel.split("/"), root)


def _json_files(root: Traversable, prefix: str = "") -> Iterator[str]:
    """Relative paths (``/``-separated) of the JSON files under ``root``."""
    for child in root.iterdir():
        if child.is_dir():
            yield from _json_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith(".json"):
            yield prefix + child.name


def check_schemas(root: Traversable) -> list[str]:
    """Paths whose committed content differs from the code (missing or stale), plus strays.

    ``root`` is a directory (a :class:`~pathlib.Path`) or the packaged copy (a resource)."""
    expected = render_schemas()
    drift = [
        rel
        for rel, text in expected.items()
        if not _at(root, rel).is_file() or _at(root, rel).read_text(encoding="utf-8") != text
    ]
    if not root.is_dir():
        return drift
    return drift + sorted(rel for rel in _json_files(root) if rel not in expected)


def packaged_schemas() -> Traversable | None:
    """The copy of ``schemas/`` an installed wheel carries; None in a source tree or an
    editable install (the repository's ``schemas/`` is the one there)."""
    copy = resources.files("gateway").joinpath(PACKAGED_SCHEMAS)
    return copy if copy.is_dir() else None


class SchemaCopy(NamedTuple):
    """A copy of the schemas that ``--check`` holds against the code."""

    root: Traversable
    shown: str  # how the messages name it: the path given or found
    packaged: bool  # the copy a wheel carries (gateway/published_schemas/)


def schemas_to_check(out: str | None) -> SchemaCopy:
    """What ``gateway schemas --check`` checks: ``--out`` if given; else ``./schemas`` if it
    exists (in the repository); else the copy packaged with the installed gateway; else
    ``./schemas`` all the same (everything reported missing)."""
    if out is not None:
        return SchemaCopy(Path(out), out, packaged=False)
    if Path(DEFAULT_DIR).is_dir():
        return SchemaCopy(Path(DEFAULT_DIR), DEFAULT_DIR, packaged=False)
    copy = packaged_schemas()
    if copy is not None:
        return SchemaCopy(copy, str(copy), packaged=True)
    return SchemaCopy(Path(DEFAULT_DIR), DEFAULT_DIR, packaged=False)
