"""The OpenAPI 3.1 document of the webhook ingress, built from the same pydantic models.

Written to ``schemas/openapi.json`` by ``gateway schemas`` (``--check`` fails on drift); not
served over HTTP (the API port serves the API and ``/healthz`` only). Request and result
bodies reuse the wire models of :mod:`gateway.messages`, so the HTTP contract cannot drift
from the Kafka one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.events import ResultEvent
from gateway.webhooks.ingress import KEY_FIELD
from gateway.webhooks.signature import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP

__all__ = [
    "AcceptedBody",
    "CommandRequest",
    "CommandStatusBody",
    "Health",
    "Problem",
    "openapi_document",
]

PROBLEM_JSON = "application/problem+json"


class CommandRequest(CommandEnvelope):
    """A command envelope (docs/topics.md), optionally with the Kafka key to produce it under."""

    key: str | None = Field(
        None,
        min_length=1,
        description="Kafka key of the command record; default: payload.room_id",
    )


class AcceptedBody(BaseModel):
    """The command is on the commands topic."""

    id: str = Field(description="the command id")
    status: Literal["accepted"] = "accepted"


class CommandStatusBody(BaseModel):
    """What this replica knows of a command."""

    id: str
    status: Literal["accepted", "succeeded", "failed", "rejected"]
    result: ResultEvent | None = Field(description="the result event, once it has been read")


class Problem(BaseModel):
    """An RFC 9457 problem: the reason, never a secret, a signature or the body."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:vendor-gateway:problem:<slug>")
    title: str
    status: int
    detail: str = Field(description="why the request was refused")
    errors: list[dict[str, str]] | None = Field(
        None, description="invalid envelope: which fields and why"
    )


class Health(BaseModel):
    """The process answers."""

    status: Literal["alive"] = "alive"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
        **extra,
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_SIGNING = (
    "Signed per Standard Webhooks: `webhook-signature` carries one or more space-separated "
    "`v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<content>` keyed "
    "with the base64-decoded part of a sender's `whsec_` secret (at least 24 key bytes). "
    "The timestamp must be within the tolerance (5 minutes by default) of the server's clock, "
    "and a `webhook-id` is accepted once in that window. Every signature failure is the same "
    "401. The secret that verifies identifies the sender: its rate is limited per sender, and "
    "it reads back only its own commands."
)
_SIGNED_HEADERS = [
    _header(HEADER_ID, "the message id, unique per message (kept across resends)"),
    _header(HEADER_TIMESTAMP, "seconds since the epoch, when signed", pattern="^[0-9]{1,12}$"),
    _header(HEADER_SIGNATURE, "space-separated v1,<base64 HMAC-SHA256> signatures"),
]


def openapi_document() -> dict[str, Any]:
    """The document (OpenAPI 3.1.0)."""
    models: list[type[BaseModel]] = [
        CommandRequest,
        AcceptedBody,
        CommandStatusBody,
        ResultEvent,
        Problem,
        Health,
    ]
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    submit = {
        "operationId": "submitCommand",
        "summary": "Put a signed command on the commands topic",
        "description": _SIGNING
        + " Here `<content>` is the exact body bytes."
        + f" A top-level `{KEY_FIELD}` names the Kafka key; otherwise `payload.room_id` is"
        " the key. A structured CloudEvent whose `type` is the command type and `data` its"
        " payload is accepted too.",
        "parameters": [
            {
                "name": "wait",
                "in": "query",
                "required": False,
                "description": "seconds to wait for the result event (capped by the server's"
                " GATEWAY_WEBHOOKS__WAIT_MAX_S); 200 with the event if it arrives, else 202"
                " (also at once while GATEWAY_WEBHOOKS__MAX_WAITERS requests wait already)",
                "schema": {"type": "number", "minimum": 0},
            },
            *_SIGNED_HEADERS,
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("CommandRequest")}},
        },
        "responses": {
            "200": _json("the result event, read within the wait", "ResultEvent"),
            "202": {
                **_json("on the commands topic; no result yet", "AcceptedBody"),
                "headers": {
                    "Location": {
                        "description": "where to ask for the status",
                        "schema": {"type": "string"},
                    }
                },
            },
            "400": _problem("a malformed query parameter"),
            "401": _problem("the request is not signed by a known sender"),
            "408": _problem("the body did not arrive within the server's body timeout"),
            "409": _problem("the webhook-id was already received (a replay)"),
            "413": _problem("the body is larger than the server's limit"),
            "422": _problem("the body is not a valid command envelope"),
            "429": _problem(
                "this sender is above its request rate, or this client address sent too many"
                " requests without a valid signature",
                headers=retry_after,
            ),
            "503": _problem("Kafka did not take the command in time", headers=retry_after),
        },
    }
    status = {
        "operationId": "getCommand",
        "summary": "Status and result of a command",
        "description": _SIGNING
        + " Here `<content>` is `GET <path>`: the method, one space and the path exactly as in"
        " the request line (percent-encoded as sent, without the query), for example"
        " `GET /v1/commands/cmd-1`; a `webhook-id` is accepted once, as for a POST."
        " Answered from this replica's bounded index of results (read back from the results"
        " topic at start, so any replica answers) and of the commands it accepted, and only"
        " to the sender that submitted the command: another sender's id, an unknown id and"
        " one that has left the index all answer 404. Secret fields of the vendor's answer"
        " (passwords, tokens) are `***` in the result.",
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            },
            *_SIGNED_HEADERS,
        ],
        "responses": {
            "200": _json("what is known of the command", "CommandStatusBody"),
            "401": _problem("the request is not signed by a known sender"),
            "404": _problem("no command with this id from this sender on this replica"),
            "409": _problem("the webhook-id was already received (a replay)"),
            "429": _problem(
                "this sender is above its request rate, or this client address sent too many"
                " requests without a valid signature",
                headers=retry_after,
            ),
            "503": _problem("the replay store did not answer", headers=retry_after),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vendor-gateway webhook ingress",
            "version": __version__,
            "description": "Signed commands over HTTP for systems that cannot speak Kafka, "
            "plus liveness. Readiness and metrics are on the operations port. Errors are "
            "RFC 9457 problem objects.",
        },
        "paths": {
            "/v1/commands": {"post": submit},
            "/v1/commands/{id}": {"get": status},
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "The process is alive",
                    "responses": {"200": _json("alive", "Health")},
                }
            },
        },
        "components": {"schemas": defs.get("$defs", {})},
    }
