"""`schemas/` is what the code says the wire contracts are (`gateway schemas --check`)."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.app.asyncapi import asyncapi_document
from gateway.app.schemas import check_schemas, render_schemas
from gateway.vendor_api import BY_COMMAND

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schemas_match_the_code() -> None:
    """No schema is stale, missing or left over."""
    assert check_schemas(ROOT / "schemas") == []


def test_every_command_has_a_payload_schema() -> None:
    """One schema per command type of the catalogue, naming its required fields."""
    files = render_schemas()
    for command_type, endpoint in BY_COMMAND.items():
        schema = json.loads(files[f"commands/{command_type}.schema.json"])
        required = {n for n, f in endpoint.request_model.model_fields.items() if f.is_required()}
        if command_type != "FileUpload":
            assert set(schema.get("required", [])) == required, command_type


def test_asyncapi_names_the_topics() -> None:
    """The AsyncAPI document has the commands, results, events and dead-letter channels, and
    the poller's internal lease and state topics."""
    channels = asyncapi_document()["channels"]
    addresses = {c["address"] for c in channels.values()}
    assert addresses == {
        "vendor.commands",
        "vendor.command-results",
        "vendor.events",
        "vendor.commands.dlq",
        "vendor.poller-lease",
        "vendor.poller-state",
    }
