"""The typed command classes: one per command type, the gateway's own payload models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.client import commands
from gateway.client.command import Command
from gateway.commands.request import build_request
from gateway.commands.upload import SourcePolicy
from gateway.messages.envelope import parse_command
from gateway.vendor_api import BY_COMMAND, VendorRequest

SPEC = Path(commands.__file__).parents[1] / "vendor_api" / "spec" / "commands.json"
COMMAND_TYPES = sorted(name for name, _ in json.loads(SPEC.read_text())["commands"].values())


def test_one_class_per_command_type_named_as_the_type() -> None:
    assert len(COMMAND_TYPES) == 71
    assert sorted(commands.__all__) == COMMAND_TYPES


@pytest.mark.parametrize("command_type", COMMAND_TYPES)
def test_each_class_is_the_gateways_payload_model_and_answers_with_the_endpoints_model(
    command_type: str,
) -> None:
    cls = getattr(commands, command_type)
    endpoint = BY_COMMAND[command_type]
    assert cls.command_type == command_type
    assert cls.answer_model is endpoint.response_model
    assert issubclass(cls, Command)
    if command_type != "FileUpload":  # its Kafka payload is FileUploadPayload (inline or URL)
        assert issubclass(cls, endpoint.request_model)


def _accepted(command: Command[object]) -> VendorRequest:  # type: ignore[type-var]
    """What the commands role makes of the command's payload (a rejection fails the test)."""
    envelope = {"id": "c-1", "type": command.command_type, "payload": command.payload()}
    parsed = parse_command(json.dumps(envelope).encode())
    built = build_request(parsed, BY_COMMAND[parsed.type], SourcePolicy(), 1 << 20)
    assert isinstance(built, VendorRequest), built
    return built


def test_payloads_are_accepted_by_the_gateway_with_secrets_in_clear() -> None:
    update = _accepted(commands.RoomUpdate(room_id="12345123456", password="s3cret"))
    assert update.password.get_secret_value() == "s3cret"  # type: ignore[attr-defined]
    assert _accepted(commands.RoomList()) == BY_COMMAND["RoomList"].request_model()
    created = _accepted(commands.RoomCreate(topic="Weekly", room_id="12345123456"))
    assert created.model_dump(exclude_none=True) == {"topic": "Weekly", "room_id": "12345123456"}
    upload = _accepted(commands.FileUpload(filename="a.txt", content_base64="YQ=="))
    assert upload.file.size == 1  # type: ignore[attr-defined]


def test_unset_fields_are_left_out_of_the_payload() -> None:
    assert commands.RoomCreate(topic="Weekly").payload() == {"topic": "Weekly"}


def test_a_payload_the_gateway_would_reject_is_refused_when_built() -> None:
    with pytest.raises(ValidationError):
        commands.RoomCreate(topic="Weekly", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        commands.RoomCreate()  # type: ignore[call-arg]


def test_a_succeeded_result_is_parsed_into_the_answer_model() -> None:
    answer = commands.RoomCreate(topic="Weekly").parse_answer({"room_id": "12345123456"})
    assert type(answer) is BY_COMMAND["RoomCreate"].response_model
    assert answer.room_id == "12345123456"
