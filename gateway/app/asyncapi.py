"""The AsyncAPI 3.0 document of the gateway's Kafka contract (``schemas/asyncapi.json``).

Written here rather than by FastStream: FastStream (0.7) derives one message per subscriber or
publisher and names it ``<channel>:<Message>`` (``commands:SubscribeMessage``); its Kafka
bindings know a channel's topic, partitions and replicas and an operation's group, not a
message's key (``bindings.kafka.key``) or a topic's cleanup policy; it has no message headers,
titles, summaries or examples. Those are the point of the document, so it is assembled from
the same pydantic models that validate (the request models of
``gateway.vendor_api``, :class:`CommandEnvelope`, :class:`ResultEvent`, the change events),
with the descriptions, examples and error codes of the vendor spec
(``gateway/vendor_api/spec/endpoints.json``).

Shape: one channel per topic (commands, results, events, dead letters; the poller's lease and
state topics as internal channels without messages), one message per command type, per result
status, per change event and the dead letter, each referencing ``#/components/...``; the
document has no external reference, so tools load it alone. A command's payload schema is named
after its type (``RoomCreate``): ``CommandEnvelope`` carries ``discriminator: type`` and the
AsyncAPI discriminator's value is the name of the schema that inherits it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway.app.asyncapi_examples import (
    change_event_example,
    command_payload_example,
    result_examples,
)
from gateway.app.topics import TopicSpec, TopicUse, topic_specs
from gateway.commands.upload import FileUploadPayload
from gateway.messages import headers as h
from gateway.messages.changes import ChangeName
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.events import CHANGE_EVENTS, ResultEvent
from gateway.messages.results import Status
from gateway.settings import GatewaySettings
from gateway.vendor_api import BY_COMMAND, Endpoint

__all__ = [
    "ASYNCAPI_VERSION",
    "KAFKA_BINDING",
    "RESULT_MESSAGES",
    "asyncapi_document",
    "change_message_name",
    "documented_error_codes",
    "endpoint_spec",
    "request_model",
    "result_schema_name",
]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"  # the Kafka bindings version: topicConfiguration, message key
SCHEMAS = "#/components/schemas/"
MESSAGES = "#/components/messages/"
# The three result statuses (gateway.messages.results.Status) and their message names.
RESULT_MESSAGES: dict[Status, str] = {
    "succeeded": "CommandSucceeded",
    "failed": "CommandFailed",
    "rejected": "CommandRejected",
}
# The channel of each topic the gateway uses.
CHANNELS: dict[TopicUse, str] = {
    TopicUse.COMMANDS: "commands",
    TopicUse.RESULTS: "results",
    TopicUse.EVENTS: "events",
    TopicUse.DLQ: "deadLetters",
    TopicUse.POLLER_LEASE: "pollerLease",
    TopicUse.POLLER_STATE: "pollerState",
}
_CHANNEL_TEXT: dict[TopicUse, str] = {
    TopicUse.COMMANDS: (
        "Commands to the vendor: a JSON envelope, a structured CloudEvent or a binary-mode"
        " CloudEvent (ce_* headers, the value is then the payload alone). Same key: one after"
        " another in offset order; different keys run concurrently."
    ),
    TopicUse.RESULTS: (
        "Exactly one result CloudEvent per command, under the command's key, published in"
        " Kafka transactions: read with isolation.level=read_committed."
    ),
    TopicUse.EVENTS: (
        "Change events of the poller (CloudEvents), keyed by room_id (server_id for"
        " media-server events); data.sequence grows per room."
    ),
    TopicUse.DLQ: (
        "Records that are no command at all (no id to answer under): the original key, value"
        " and headers, plus dlq-* headers. `gateway dlq replay` puts them back."
    ),
    TopicUse.POLLER_LEASE: (
        "Internal: its one-partition consumer group elects the active poller. Not for clients."
    ),
    TopicUse.POLLER_STATE: (
        "Internal: the poller's last-seen snapshot, compacted (a closed room's record is"
        " deleted by a tombstone). Not for clients."
    ),
}
# Topics the gateway sizes itself: their partition count is part of how it works (one lease,
# one snapshot), unlike the client topics, whose count is a setting.
_FIXED_PARTITIONS = frozenset({TopicUse.POLLER_LEASE, TopicUse.POLLER_STATE})


def _ref(target: str) -> dict[str, str]:
    return {"$ref": target}


# ---------------------------------------------------------------------------- the vendor spec


@functools.cache
def _vendor_spec() -> dict[str, Any]:
    text = resources.files("gateway.vendor_api").joinpath("spec/endpoints.json").read_text("utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def endpoint_spec(path: str) -> dict[str, Any]:
    """The vendor spec's entry of one endpoint (``{}`` if the spec has none)."""
    return next((e for e in _vendor_spec()["endpoints"] if e["path"] == path), {})


def _answer_code(answer: Any) -> int | None:
    """The failure code of a printed vendor answer (``ret``, or ``code`` where the vendor uses
    it), None for a success (0 or 200) or no code."""
    if not isinstance(answer, dict):
        return None
    code = answer.get("ret", answer.get("code"))
    return code if isinstance(code, int) and code not in (0, 200) else None


def documented_error_codes(path: str) -> list[int]:
    """The error codes the spec's examples of an endpoint show (sorted, once each)."""
    spec = endpoint_spec(path)
    answers = [spec.get("error_example")] + [
        extra.get("example") for extra in spec.get("additional_examples", [])
    ]
    return sorted({code for a in answers if (code := _answer_code(a)) is not None})


# ---------------------------------------------------------------------------- schemas


def request_model(command_type: str, endpoint: Endpoint[Any, Any]) -> type[BaseModel]:
    """The model a command's payload is validated with (FileUpload takes the file, not the
    vendor's multipart parameters)."""
    return FileUploadPayload if command_type == "FileUpload" else endpoint.request_model


def result_schema_name(command_type: str) -> str:
    return f"{command_type}Result"


def _model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """JSON Schemas of ``models`` and everything they use, by name, referring to each other
    under ``#/components/schemas/`` (pydantic names each once, also when shared)."""
    _, top = models_json_schema(
        [(model, "validation") for model in models], ref_template=SCHEMAS + "{model}"
    )
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


def _command_schema(command_type: str, endpoint: Endpoint[Any, Any]) -> dict[str, Any]:
    """The envelope of one command type: ``type`` fixed, ``payload`` its request model."""
    model = request_model(command_type, endpoint)
    return {
        "title": f"{command_type} command",
        "description": f"A {command_type} command ({endpoint.kind}, vendor {endpoint.path}).",
        "allOf": [
            _ref(SCHEMAS + "CommandEnvelope"),
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "const": command_type},
                    "payload": _ref(SCHEMAS + model.__name__),
                },
            },
        ],
    }


def _result_schema(command_type: str, endpoint: Endpoint[Any, Any]) -> dict[str, Any] | None:
    """What ``data.result`` of a succeeded command holds: the vendor's answer without its
    ``ret``/``msg``/``code``; None where the vendor documents no other field."""
    schema = endpoint.response_model.model_json_schema()
    properties = {
        name: prop
        for name, prop in schema.get("properties", {}).items()
        if name not in ("ret", "msg", "code")
    }
    if not properties:
        return None
    meanings = {
        f["name"]: f.get("meaning") for f in endpoint_spec(endpoint.path).get("response_fields", [])
    }
    for name, prop in properties.items():
        if "description" not in prop and meanings.get(name):
            prop["description"] = meanings[name]
    result: dict[str, Any] = {
        "title": f"{command_type} result",
        "description": f"data.result of a succeeded {command_type} (the answer of {endpoint.path}"
        " without ret and msg); the vendor may add fields.",
        "type": "object",
        "properties": properties,
        "additionalProperties": True,
    }
    example = endpoint_spec(endpoint.path).get("success_example")
    if isinstance(example, dict):
        result["examples"] = [{k: v for k, v in example.items() if k not in ("ret", "msg", "code")}]
    return result


def _succeeded_data_schema(result_types: Iterable[str]) -> dict[str, Any]:
    """``data`` of a succeeded result: ``result`` has the shape of its command type's answer
    (``if command_type is X then result is XResult``, which validators enforce)."""
    by_type = [
        {
            "if": {"properties": {"command_type": {"const": command_type}}},
            "then": {"properties": {"result": _ref(SCHEMAS + result_schema_name(command_type))}},
        }
        for command_type in sorted(result_types)
    ]
    return {
        "allOf": [
            _ref(SCHEMAS + "ResultData"),
            {
                "type": "object",
                "properties": {"status": {"const": "succeeded"}, "result": {"type": "object"}},
            },
            *by_type,
        ]
    }


def _result_event_schema(status: Status, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": f"A {status} command's result",
        "allOf": [
            _ref(SCHEMAS + "ResultEvent"),
            {
                "type": "object",
                "properties": {
                    "type": {
                        "type": "string",
                        "pattern": rf"\.command\.{status}$",
                        "description": f"<prefix>.command.{status} (prefix: setting"
                        " GATEWAY_COMMANDS__RESULT_TYPE_PREFIX, default avd)",
                    },
                    "data": data,
                },
            },
        ],
    }


def _failure_data_schema(status: Status) -> dict[str, Any]:
    return {
        "allOf": [
            _ref(SCHEMAS + "ResultData"),
            {
                "type": "object",
                "required": ["error"],
                "properties": {"status": {"const": status}, "error": _ref(SCHEMAS + "ErrorInfo")},
            },
        ]
    }


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _header_schemas() -> dict[str, Any]:
    """The Kafka headers of each kind of record (names from gateway.messages.headers)."""
    trace = _string("W3C trace context; a well-formed one is continued on the result")
    sender = _string("the webhook sender whose signature the ingress verified")
    ce = h.CE_PREFIX
    return {
        "CommandHeaders": {
            "type": "object",
            "description": "Headers the gateway reads on a command. With ce_id the record is a"
            " binary-mode CloudEvent: the ce_* headers are the envelope, the value its payload.",
            "properties": {
                h.CONTENT_TYPE: _string("application/json or application/cloudevents+json"),
                h.TRACEPARENT: trace,
                h.TRACESTATE: _string("W3C trace state, carried with traceparent"),
                h.SENDER: sender,
                f"{ce}id": _string("binary mode: the command id"),
                f"{ce}type": _string("binary mode: the command type"),
                f"{ce}specversion": _string("binary mode: must be 1.0", const="1.0"),
                f"{ce}source": _string("binary mode: who sent it (not read)"),
                f"{ce}idempotencykey": _string("binary mode: the idempotency key"),
                f"{ce}deadline": _string("binary mode: the deadline", format="date-time"),
                f"{ce}account": _string("binary mode: the vendor account"),
            },
            "additionalProperties": {"type": "string"},
        },
        "ResultHeaders": {
            "type": "object",
            "properties": {
                h.CONTENT_TYPE: _string(
                    "structured CloudEvent", const="application/cloudevents+json; charset=utf-8"
                ),
                h.TRACEPARENT: trace,
                h.SENDER: sender,
            },
        },
        "ChangeEventHeaders": {
            "type": "object",
            "properties": {
                h.CONTENT_TYPE: _string(
                    "structured CloudEvent", const="application/cloudevents+json; charset=utf-8"
                )
            },
        },
        "DeadLetterHeaders": {
            "type": "object",
            "description": "The original record's headers (dlq-* ones dropped), plus these.",
            "required": [
                h.DLQ_REASON,
                h.DLQ_ERROR_CLASS,
                h.DLQ_SOURCE_TOPIC,
                h.DLQ_SOURCE_PARTITION,
                h.DLQ_SOURCE_OFFSET,
            ],
            "properties": {
                h.DLQ_REASON: _string("why it is no command, e.g. value is not JSON"),
                h.DLQ_ERROR_CLASS: _string("e.g. NotAnEnvelopeError"),
                h.DLQ_SOURCE_TOPIC: _string("the topic it was read from"),
                h.DLQ_SOURCE_PARTITION: _string("its partition, decimal", pattern="^[0-9]+$"),
                h.DLQ_SOURCE_OFFSET: _string("its offset, decimal", pattern="^[0-9]+$"),
                h.DLQ_VALUE_OMITTED: _string(
                    "only when the original with these headers exceeded the record limit: its"
                    " size in bytes (the value is then empty)",
                    pattern="^[0-9]+$",
                ),
            },
            "additionalProperties": {"type": "string"},
        },
    }


# The Kafka keys, inline in the bindings: the Kafka binding 0.5.0 takes a key as ``oneOf``
# Reference or Schema, and a ``$ref`` is both, so the official schema refuses a referenced key.
_KEYS: dict[str, dict[str, Any]] = {
    "CommandKey": _string(
        "The entity the command is about, normally its room_id (docs/topics.md): commands with"
        " the same key are done one after another, in offset order. Results and dead letters"
        " keep the command's key."
    ),
    "ChangeEventKey": _string("The room_id; the server_id for media-server events."),
}


def _schemas() -> dict[str, Any]:
    """``components.schemas``: the models, each command's envelope and result, the results'
    statuses, headers and keys."""
    commands = sorted(BY_COMMAND.items())
    models: list[type[BaseModel]] = [CommandEnvelope, ResultEvent, *CHANGE_EVENTS.values()]
    models += [request_model(t, e) for t, e in commands]
    schemas = _model_schemas(models)
    envelope = schemas["CommandEnvelope"]
    envelope["discriminator"] = "type"
    for command_type, endpoint in commands:
        schemas[command_type] = _command_schema(command_type, endpoint)
        result = _result_schema(command_type, endpoint)
        if result is not None:
            schemas[result_schema_name(command_type)] = result
    with_result = [t for t, _ in commands if result_schema_name(t) in schemas]
    schemas["CommandSucceededEvent"] = _result_event_schema(
        "succeeded", _succeeded_data_schema(with_result)
    )
    for status in ("failed", "rejected"):
        name = RESULT_MESSAGES[status] + "Event"
        schemas[name] = _result_event_schema(status, _failure_data_schema(status))
    schemas["DeadLetterValue"] = {
        "type": "string",
        "format": "binary",
        "description": "The original record value, byte for byte (empty if dlq-value-omitted).",
    }
    return {**schemas, **_header_schemas()}


# ---------------------------------------------------------------------------- messages


def _kafka_key(name: str) -> dict[str, Any]:
    return {"kafka": {"key": _KEYS[name], "bindingVersion": KAFKA_BINDING}}


def _command_message(command_type: str, endpoint: Endpoint[Any, Any]) -> dict[str, Any]:
    spec = endpoint_spec(endpoint.path)
    message: dict[str, Any] = {
        "name": command_type,
        "title": f"{command_type} command",
        "summary": spec.get("purpose") or f"Calls the vendor's {endpoint.path}.",
        "description": f"{endpoint.kind.capitalize()}: calls the vendor's {endpoint.path}. The"
        f" payload fields are those of {request_model(command_type, endpoint).__name__}.",
        "contentType": "application/json",
        "headers": _ref(SCHEMAS + "CommandHeaders"),
        "payload": _ref(SCHEMAS + command_type),
        "correlationId": _ref("#/components/correlationIds/CommandId"),
        "bindings": _ref("#/components/messageBindings/CommandKey"),
        "x-vendor-endpoint": endpoint.path,
        "x-command-kind": endpoint.kind,
        "x-vendor-error-codes": documented_error_codes(endpoint.path),
    }
    payload = command_payload_example(request_model(command_type, endpoint), spec)
    if payload is not None:
        envelope = {"id": f"example-{command_type}", "type": command_type, "payload": payload}
        message["examples"] = [{"name": command_type, "payload": envelope}]
    return message


def _result_messages() -> dict[str, Any]:
    examples = result_examples()
    return {
        name: {
            "name": name,
            "title": f"Command {status}",
            "summary": f"The result of a {status} command.",
            "description": _RESULT_TEXT[status],
            "contentType": "application/cloudevents+json",
            "headers": _ref(SCHEMAS + "ResultHeaders"),
            "payload": _ref(SCHEMAS + name + "Event"),
            "correlationId": _ref("#/components/correlationIds/ResultCommandId"),
            "bindings": _ref("#/components/messageBindings/CommandKey"),
            "examples": [{"name": name, "payload": examples[status]}],
        }
        for status, name in RESULT_MESSAGES.items()
    }


_RESULT_TEXT: dict[Status, str] = {
    "succeeded": "The vendor did it: data.vendor holds its ret/msg, data.result the rest of its"
    " answer (shape per command type: <Type>Result).",
    "failed": "The command was valid but did not succeed: the vendor refused it (data.error.code)"
    ", retries ran out on a transient fault, or the deadline passed.",
    "rejected": "The command was refused before the vendor was called: an invalid envelope or"
    " payload (data.error.fields), an unknown type, an idempotency key reused with another"
    " payload, a record too deep or too large.",
}


def change_message_name(change: str) -> str:
    """``participant.joined`` -> ``ParticipantJoined``."""
    return "".join(part.capitalize() for part in change.replace("_", ".").split("."))


def _change_message(change: ChangeName, model: type[BaseModel]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": change_message_name(change),
        "title": change,
        "summary": (model.__doc__ or change).strip().splitlines()[0],
        "description": f"CloudEvents type <prefix>.{change} (prefix: setting"
        " GATEWAY_POLLER__EVENT_TYPE_PREFIX, default avd).",
        "contentType": "application/cloudevents+json",
        "headers": _ref(SCHEMAS + "ChangeEventHeaders"),
        "payload": _ref(SCHEMAS + model.__name__),
        "bindings": _ref("#/components/messageBindings/ChangeEventKey"),
    }
    example = change_event_example(change, model)
    if example is not None:
        message["examples"] = [{"name": change_message_name(change), "payload": example}]
    return message


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record on the commands topic that is no command (no id to answer under).",
        "contentType": "application/octet-stream",
        "headers": _ref(SCHEMAS + "DeadLetterHeaders"),
        "payload": _ref(SCHEMAS + "DeadLetterValue"),
        "bindings": _ref("#/components/messageBindings/CommandKey"),
        "examples": [
            {
                "name": "NotJson",
                "summary": "A record whose value is not JSON",
                "headers": {
                    h.DLQ_REASON: "value is not JSON",
                    h.DLQ_ERROR_CLASS: "NotAnEnvelopeError",
                    h.DLQ_SOURCE_TOPIC: "vendor.commands",
                    h.DLQ_SOURCE_PARTITION: "0",
                    h.DLQ_SOURCE_OFFSET: "42",
                },
                "payload": "RoomCreate 12345123456",
            }
        ],
    }


def _messages() -> dict[str, Any]:
    messages = {t: _command_message(t, e) for t, e in sorted(BY_COMMAND.items())}
    messages |= _result_messages()
    messages |= {
        change_message_name(change): _change_message(change, model)
        for change, model in CHANGE_EVENTS.items()
    }
    messages["DeadLetter"] = _dead_letter_message()
    return messages


def _channel_message_names() -> dict[TopicUse, list[str]]:
    return {
        TopicUse.COMMANDS: sorted(BY_COMMAND),
        TopicUse.RESULTS: list(RESULT_MESSAGES.values()),
        TopicUse.EVENTS: [change_message_name(c) for c in CHANGE_EVENTS],
        TopicUse.DLQ: ["DeadLetter"],
        TopicUse.POLLER_LEASE: [],
        TopicUse.POLLER_STATE: [],
    }


# ---------------------------------------------------------------------------- channels


def _channel_binding(spec: TopicSpec) -> dict[str, Any]:
    """The topic's name, its cleanup policy (the gateway relies on delete vs compact, see
    gateway/app/topics.py) and, where the gateway fixes it, its partition count."""
    binding: dict[str, Any] = {"topic": spec.name, "bindingVersion": KAFKA_BINDING}
    if spec.use in _FIXED_PARTITIONS:
        binding["partitions"] = spec.partitions
    if "cleanup.policy" in spec.configs:
        binding["topicConfiguration"] = {"cleanup.policy": [spec.configs["cleanup.policy"]]}
    return binding


def _channel(spec: TopicSpec, message_names: list[str]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": spec.name,
        "title": CHANNELS[spec.use],
        "description": f"{_CHANNEL_TEXT[spec.use]} Topic name: setting {spec.setting}.",
        "bindings": {"kafka": _channel_binding(spec)},
    }
    if message_names:
        channel["messages"] = {name: _ref(MESSAGES + name) for name in message_names}
    return channel


def _channels(settings: GatewaySettings) -> dict[str, Any]:
    names = _channel_message_names()
    return {CHANNELS[spec.use]: _channel(spec, names[spec.use]) for spec in topic_specs(settings)}


# ---------------------------------------------------------------------------- operations


def _operation_messages(use: TopicUse) -> list[dict[str, str]]:
    channel = CHANNELS[use]
    return [_ref(f"#/channels/{channel}/messages/{n}") for n in _channel_message_names()[use]]


def _operations() -> dict[str, Any]:
    """Seen from the gateway: it receives commands and sends results, events and dead letters."""
    return {
        "receiveCommands": {
            "action": "receive",
            "title": "The gateway receives commands",
            "summary": "The commands role consumes commands and calls the vendor.",
            "channel": _ref("#/channels/commands"),
            "messages": _operation_messages(TopicUse.COMMANDS),
            "reply": {
                "channel": _ref("#/channels/results"),
                "messages": _operation_messages(TopicUse.RESULTS),
            },
        },
        "sendResults": _send("results", TopicUse.RESULTS, "One result per command."),
        "sendChangeEvents": _send("events", TopicUse.EVENTS, "What the poller saw change."),
        "sendDeadLetters": _send(
            "deadLetters", TopicUse.DLQ, "Records of the commands topic that are no command."
        ),
    }


def _send(channel: str, use: TopicUse, summary: str) -> dict[str, Any]:
    return {
        "action": "send",
        "title": f"The gateway sends {channel}",
        "summary": summary,
        "channel": _ref(f"#/channels/{channel}"),
        "messages": _operation_messages(use),
    }


# ---------------------------------------------------------------------------- the document


def _components() -> dict[str, Any]:
    return {
        "schemas": _schemas(),
        "messages": _messages(),
        "messageBindings": {
            "CommandKey": _kafka_key("CommandKey"),
            "ChangeEventKey": _kafka_key("ChangeEventKey"),
        },
        "correlationIds": {
            "CommandId": {
                "description": "The command id; its result carries it as data.command_id.",
                "location": "$message.payload#/id",
            },
            "ResultCommandId": {
                "description": "The id of the command this result answers.",
                "location": "$message.payload#/data/command_id",
            },
        },
    }


def _servers(settings: GatewaySettings) -> dict[str, Any]:
    return {
        "kafka": {
            "host": "{host}",
            "protocol": "kafka",
            "description": "The Kafka cluster (setting GATEWAY_KAFKA__BOOTSTRAP_SERVERS).",
            "variables": {
                "host": {
                    "default": settings.kafka.bootstrap_servers,
                    "description": "bootstrap server, host:port",
                }
            },
        }
    }


def asyncapi_document(settings: GatewaySettings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the gateway's topics (default settings: the default topic
    names, so that the committed document does not depend on the environment)."""
    settings = settings or GatewaySettings.model_construct()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "vendor-gateway",
            "version": __version__,
            "description": "Kafka contract of the vendor gateway: commands in; results, change"
            " events and dead letters out (docs/topics.md, docs/contract.md).",
        },
        "defaultContentType": "application/json",
        "servers": _servers(settings),
        "channels": _channels(settings),
        "operations": _operations(),
        "components": _components(),
    }
