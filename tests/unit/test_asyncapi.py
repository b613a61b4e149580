"""`schemas/asyncapi.json` is valid AsyncAPI 3.0, self-contained, and names every message.

Validated against the official JSON Schema of AsyncAPI 3.0.0 (a copy in tests/data, see its
README), with jsonschema-rs: the JSON Schema validator the dev extra already has (through
schemathesis)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from typer.testing import CliRunner

from gateway.app.asyncapi import RESULT_MESSAGES, asyncapi_document, change_message_name
from gateway.app.cli import app
from gateway.app.schemas import check_docs, in_repository, write_schemas
from gateway.messages.events import CHANGE_EVENTS
from gateway.vendor_api import BY_COMMAND

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_SCHEMA = ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json"
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _messages(document: dict[str, Any], channel: str) -> list[str]:
    return [
        ref["$ref"].rsplit("/", 1)[-1] for ref in document["channels"][channel]["messages"].values()
    ]


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    """No error against the official AsyncAPI 3.0.0 JSON Schema."""
    validator = jsonschema_rs.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text("utf-8")))
    errors = [str(e).splitlines()[0] for e in validator.iter_errors(document)]
    assert errors == []


def test_the_committed_document_is_the_generated_one(document: dict[str, Any]) -> None:
    committed = json.loads((ROOT / "schemas" / "asyncapi.json").read_text("utf-8"))
    assert committed == document


def test_every_ref_resolves_inside_the_document(document: dict[str, Any]) -> None:
    """Self-contained: every $ref is local and points at something."""
    refs = set(_refs(document))
    assert refs
    for ref in sorted(refs):
        assert _resolve(document, ref) is not None, ref


def test_every_command_type_has_its_message(document: dict[str, Any]) -> None:
    """71 commands, each a message named after its type, its payload's type fixed to it."""
    assert sorted(_messages(document, "commands")) == sorted(BY_COMMAND)
    assert len(BY_COMMAND) == 71
    schemas = document["components"]["schemas"]
    for command_type in BY_COMMAND:
        message = document["components"]["messages"][command_type]
        envelope = _resolve(document, message["payload"]["$ref"])
        assert envelope["allOf"][1]["properties"]["type"]["const"] == command_type
        assert message["bindings"]["$ref"] == "#/components/messageBindings/CommandKey"
    assert schemas["CommandEnvelope"]["discriminator"] == "type"


def test_results_events_and_dead_letters_have_their_messages(document: dict[str, Any]) -> None:
    assert _messages(document, "results") == list(RESULT_MESSAGES.values())
    assert len(RESULT_MESSAGES) == 3
    assert _messages(document, "events") == [change_message_name(c) for c in CHANGE_EVENTS]
    assert len(CHANGE_EVENTS) == 7
    assert "ParticipantJoined" in _messages(document, "events")
    assert _messages(document, "deadLetters") == ["DeadLetter"]
    assert len(document["components"]["messages"]) == 71 + 3 + 7 + 1


def test_names_are_identifiers(document: dict[str, Any]) -> None:
    """Message and schema names a code generator can use as they are."""
    components = document["components"]
    for name, message in components["messages"].items():
        assert IDENTIFIER.match(name), name
        assert message["name"] == name
        assert message["title"], name
        assert message["summary"], name
    for name in components["schemas"]:
        assert IDENTIFIER.match(name), name


def test_the_gateway_receives_commands_and_sends_the_rest(document: dict[str, Any]) -> None:
    actions = {
        op["channel"]["$ref"].rsplit("/", 1)[-1]: op["action"]
        for op in document["operations"].values()
    }
    assert actions == {
        "commands": "receive",
        "results": "send",
        "events": "send",
        "deadLetters": "send",
    }


def test_topics_state_what_the_gateway_relies_on(document: dict[str, Any]) -> None:
    """The poller's state topic is compacted and has one partition; the others delete."""
    kafka = {name: c["bindings"]["kafka"] for name, c in document["channels"].items()}
    assert kafka["pollerState"]["topicConfiguration"] == {"cleanup.policy": ["compact"]}
    assert kafka["pollerState"]["partitions"] == 1
    for name in ("commands", "results", "events", "deadLetters"):
        assert kafka[name]["topicConfiguration"] == {"cleanup.policy": ["delete"]}


def test_examples_match_their_payload_schemas(document: dict[str, Any]) -> None:
    """Every message example validates against the message's payload schema."""
    checked = 0
    for name, message in document["components"]["messages"].items():
        wrapper = {"allOf": [message["payload"]], "components": document["components"]}
        validator = jsonschema_rs.Draft7Validator(wrapper)
        for example in message.get("examples", []):
            errors = [str(e).splitlines()[0] for e in validator.iter_errors(example["payload"])]
            assert errors == [], name
            checked += 1
    assert checked >= 71 + 3 + 7


def test_the_contract_doc_is_current() -> None:
    """docs/contract.md is what `gateway schemas` renders from the document."""
    assert check_docs(ROOT) == []


def test_docs_are_only_checked_in_the_repository(tmp_path: Path) -> None:
    """An installed gateway, run where there is no repository, has no docs to check."""
    assert in_repository(ROOT)
    (tmp_path / "schemas").mkdir()
    assert not in_repository(tmp_path)


def test_schemas_check_fails_on_a_stale_contract_doc_in_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a repository `gateway schemas --check` also checks docs/contract.md; elsewhere (no
    pyproject.toml, docs/) only the schemas."""
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    write_schemas(tmp_path / "schemas")
    (tmp_path / "docs" / "contract.md").write_text("stale\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    stale = runner.invoke(app, ["schemas", "--check"])
    assert stale.exit_code == 1
    assert "out of date: docs/contract.md" in stale.output

    assert runner.invoke(app, ["schemas"]).exit_code == 0
    assert check_docs(tmp_path) == []
    assert runner.invoke(app, ["schemas", "--check"]).exit_code == 0

    (tmp_path / "docs" / "contract.md").write_text("stale\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").unlink()
    assert runner.invoke(app, ["schemas", "--check"]).exit_code == 0
