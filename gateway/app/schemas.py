"""`gateway schemas`: JSON Schemas of the wire contracts and an AsyncAPI document.

Writes ``schemas/``: ``envelope.schema.json``, ``commands/<Type>.schema.json`` (each command's
payload), ``events/result.schema.json``, ``events/<name>.schema.json`` (each poller
change event), ``asyncapi.json`` and ``openapi.json`` (the
webhook ingress's HTTP API). The AsyncAPI document comes
from FastStream: a broker that declares the role's channels with their message models (the
loop itself runs on aiokafka, see ``gateway/commands/consumer.py``). ``--check`` fails on drift.
"""

from __future__ import annotations

import functools
import json
import operator
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from gateway import __version__
from gateway.commands.upload import FileUploadPayload
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.events import CHANGE_EVENTS, ResultEvent
from gateway.settings import KafkaSettings
from gateway.vendor_api import BY_COMMAND
from gateway.webhooks.openapi import openapi_document

__all__ = ["asyncapi_document", "check_schemas", "render_schemas", "write_schemas"]


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


def check_schemas(root: Path) -> list[str]:
    """Paths whose committed content differs from the code (missing or stale), plus strays."""
    expected = render_schemas()
    drift = [
        rel
        for rel, text in expected.items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
    ]
    strays = [
        str(p.relative_to(root))
        for p in root.rglob("*.json")
        if str(p.relative_to(root)) not in expected
    ]
    return drift + strays
