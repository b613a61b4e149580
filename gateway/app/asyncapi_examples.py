"""Examples for the AsyncAPI document: built by the code that makes the real records, checked
by the models that validate them, so an example never shows what the gateway would refuse.

A command's payload comes from the vendor spec's example request where it fits the request
model, else it is the smallest payload the model accepts (its required fields, filled from
their JSON Schema). Results are made by :mod:`gateway.commands.results` and
:func:`gateway.messages.results.result_event`, change
events by :func:`gateway.messages.changes.change_event`. Fixed ids and times keep the document
the same on every run (``gateway schemas --check``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pydantic_core
from pydantic import BaseModel, SecretStr, ValidationError

from gateway.commands import results
from gateway.messages.changes import ChangeName, change_event
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.results import ResultData, Status, result_event
from gateway.vendor_api import BY_COMMAND
from gateway.vendor_api.errors import error_for_code

__all__ = [
    "EXAMPLE_TIME",
    "change_event_example",
    "command_payload_example",
    "minimal_instance",
    "result_examples",
]

EXAMPLE_TIME = "2026-01-01T12:00:00Z"
# Values for strings by field name, so that examples read like the real thing.
_NAMED_STRINGS = {
    "room_id": "12345123456",
    "user_id": "10",
    "server_id": "media-1",
    "account": "default",
    "observed_at": EXAMPLE_TIME,
    "id": "example",
}
# Payloads of models with a rule their JSON Schema cannot state (FileUpload: exactly one of
# content_base64 and source_url), so the minimal payload would not pass.
_WRITTEN_PAYLOADS: dict[str, dict[str, Any]] = {
    "FileUploadPayload": {"filename": "agenda.txt", "content_base64": "V2Vla2x5IHN5bmMK"},
}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _first_option(schema: dict[str, Any]) -> dict[str, Any]:
    """Of an ``anyOf``/``oneOf``, the first option that is not null (else the schema)."""
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    return next((o for o in options if o.get("type") != "null"), options[0])


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any], name: str = "") -> Any:
    """The smallest value ``schema`` describes: objects with their required properties only,
    empty arrays, zero, false, a short string (named after the field where one is known)."""
    schema = _resolve(_first_option(_resolve(schema, defs)), defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            key: minimal_instance(properties[key], defs, key)
            for key in schema.get("required", [])
            if key in properties
        }
    if kind == "array":
        item = minimal_instance(schema.get("items", {}), defs, name)
        return [item] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = _NAMED_STRINGS.get(name, "example")
    return text.ljust(schema.get("minLength", 0), "x")


def _fits(model: type[BaseModel], value: Any) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


def _json_value(value: Any) -> Any:
    """A model's field value as JSON; a secret as written (the example's password is the
    vendor's sample, and a dump would mask it)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return pydantic_core.to_jsonable_python(value)


def _spec_request_params(spec: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """The example request's query parameters that are the model's fields (no token)."""
    query = urlsplit(str(spec.get("example_request") or "")).query
    return {k: v for k, v in parse_qsl(query) if k in model.model_fields}


def command_payload_example(model: type[BaseModel], spec: dict[str, Any]) -> dict[str, Any] | None:
    """A payload for the command: the vendor's example request if the model takes it, else
    the minimal one (or a written one); None if neither validates."""
    from_spec = _spec_request_params(spec, model)
    if from_spec and _fits(model, from_spec):
        # Typed as the model reads them: the query string's "true" is the JSON true.
        request = model.model_validate(from_spec)
        return {name: _json_value(getattr(request, name)) for name in from_spec}
    schema = model.model_json_schema()
    minimal = _WRITTEN_PAYLOADS.get(model.__name__) or minimal_instance(
        schema, schema.get("$defs", {})
    )
    return minimal if _fits(model, minimal) else None


def change_event_example(change: ChangeName, model: type[BaseModel]) -> dict[str, Any] | None:
    """A change event as the poller writes it, its data the minimal one; None if the model
    would refuse it."""
    data_schema = model.model_json_schema()
    defs = data_schema.get("$defs", {})
    data = minimal_instance(data_schema["properties"]["data"], defs)
    key = data.get("server_id") or data.get("room_id", "")
    subject = f"media_servers/{key}" if "server_id" in data else f"rooms/{key}"
    event = change_event(
        change,
        data,
        subject=subject,
        key=key,
        prefix="avd",
        source="vendor-gateway/poller",
    )
    return event if _fits(model, event) else None


def _result_data(status: Status) -> ResultData:
    """A RoomCreate command's result, made by the functions the commands role uses."""
    command = CommandEnvelope(
        id="0b6c0f1e-6a51-4c1b-9e0e-9b8f0e1d2c3a",
        type="RoomCreate",
        payload={"topic": "Weekly sync", "room_id": "12345123456"},
        idempotency_key="crm-meeting-991",
    )
    endpoint = BY_COMMAND["RoomCreate"]
    if status == "succeeded":
        answer = {"ret": 0, "msg": "success", "room_id": "12345123456"}
        return results.succeeded(command, endpoint, answer, attempts=1)
    if status == "failed":
        refusal = error_for_code(40005, "room_id exists", endpoint.path)
        return results.vendor_failed(command, endpoint, refusal, attempts=1)
    missing = [{"field": "payload.topic", "reason": "Field required"}]
    return results.rejected(
        command, endpoint, "InvalidPayload", f"payload does not match {endpoint.path}", missing
    )


def result_examples() -> dict[Status, dict[str, Any]]:
    """One result event per status, for a RoomCreate command."""
    statuses: tuple[Status, ...] = ("succeeded", "failed", "rejected")
    return {
        status: result_event(
            _result_data(status),
            prefix="avd",
            source="vendor-gateway/commands",
            time=datetime.fromisoformat(EXAMPLE_TIME),
        )
        for status in statuses
    }
