"""``docs/contract.md``: the AsyncAPI document rendered for people.

Per channel what the gateway does with it; per command its fields, vendor endpoint, result
fields and the vendor error codes its endpoint documents; per result status, change event and
the dead letter its fields or headers; once, the vendor error codes and whether the gateway
retries them (:func:`gateway.retry.is_retryable` of the error each code becomes). Written and
drift-checked by ``gateway schemas`` with the schemas, inside the repository only (the wheel
carries ``schemas/``, not ``docs/``).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.retry import is_retryable
from gateway.vendor_api.errors import code_table, error_for_code

__all__ = ["CONTRACT_DOC", "render_contract_doc", "retried_code"]

CONTRACT_DOC = "docs/contract.md"
_SCHEMAS = "#/components/schemas/"


def _cell(text: Any) -> str:
    """Table-safe text: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(schema: dict[str, Any]) -> str:
    """A field's type in a few words: ``string``, ``integer | null``, ``array of string``,
    ``RoomInfo`` (a named schema), ``"1.0"`` (a constant)."""
    if "$ref" in schema:
        return _name(schema["$ref"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " \\| ".join(json.dumps(v) for v in schema["enum"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return " \\| ".join(_type_of(o) for o in options)
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if isinstance(kind, str):
        return kind
    return "any"


def _field_table(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["No fields."]
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in properties.items():
        yes = "yes" if name in required else "no"
        rows.append(
            f"| `{name}` | {_type_of(prop)} | {yes} | {_cell(prop.get('description', ''))} |"
        )
    return rows


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][_name(ref)]
    return schema


def retried_code(code: int) -> bool:
    """Whether the gateway retries a vendor answer with ``code`` (its documented message)."""
    info = code_table().get(code)
    return is_retryable(error_for_code(code, info.message if info else None))


def _retried(code: int) -> str:
    return "retried" if retried_code(code) else "not retried"


def _error_codes_section() -> list[str]:
    rows = [
        "## Vendor error codes",
        "",
        "A vendor answer with a code other than success fails the command (`status` failed,"
        " `data.error.code`). Retried codes are tried again with backoff until the attempts or"
        " the deadline run out; the others fail at once. 41005 is not retried where the vendor's"
        ' message says "not found" (it uses 41005 for a missing room or record). On 40003'
        " (token invalid) the client fetches a new token and calls once more before the code"
        " counts. Codes not in this table become `UnknownCodeError`, not retried. Without a"
        " vendor answer: timeouts,"
        " connection errors and HTTP 5xx and 429 are retried; other HTTP statuses and bodies"
        " that are not the vendor's JSON are not.",
        "",
        "| code | meaning | group | error class | retried |",
        "|---|---|---|---|---|",
    ]
    for code, info in sorted(code_table().items()):
        error = error_for_code(code, info.message)
        rows.append(
            f"| {code} | {_cell(info.message)} | {info.group} | `{error.error_class}` |"
            f" {'yes' if is_retryable(error) else 'no'} |"
        )
    return rows


def _channels_section(document: dict[str, Any]) -> list[str]:
    actions = {_name(op["channel"]["$ref"]): op["action"] for op in document["operations"].values()}
    rows = [
        "## Channels",
        "",
        "| channel | topic (default) | the gateway | messages | cleanup policy |",
        "|---|---|---|---|---|",
    ]
    for name, channel in document["channels"].items():
        kafka = channel["bindings"]["kafka"]
        cleanup = ", ".join(kafka.get("topicConfiguration", {}).get("cleanup.policy", []))
        role = {"receive": "receives", "send": "sends"}.get(actions.get(name, ""), "internal")
        rows.append(
            f"| {name} | `{channel['address']}` | {role} | {len(channel.get('messages', {}))} |"
            f" {cleanup} |"
        )
    return rows


def _command_section(document: dict[str, Any], name: str, message: dict[str, Any]) -> list[str]:
    path = message["x-vendor-endpoint"]
    envelope = _schema(document, message["payload"]["$ref"])
    payload_ref = envelope["allOf"][1]["properties"]["payload"]["$ref"]
    rows = [
        f"### {name}",
        "",
        _cell(message["summary"]),
        "",
        f"Vendor endpoint `{path}` ({message['x-command-kind']}). Payload"
        f" (`{_name(payload_ref)}`, `schemas/commands/{name}.schema.json`):",
        "",
        *_field_table(_schema(document, payload_ref)),
        "",
    ]
    result = document["components"]["schemas"].get(f"{name}Result")
    if result is None:
        rows.append("Result (`data.result`): the vendor documents no field beyond ret and msg.")
    else:
        rows += [f"Result (`data.result`, `{name}Result`):", "", *_field_table(result)]
    codes = message["x-vendor-error-codes"]
    if codes:
        table = code_table()
        listed = ", ".join(
            f"{c} ({_cell(table[c].message) if c in table else 'not in the table'}; {_retried(c)})"
            for c in codes
        )
        rows += ["", f"Error codes its endpoint's examples show: {listed}."]
    return [*rows, ""]


def _commands_section(document: dict[str, Any]) -> list[str]:
    messages = document["components"]["messages"]
    names = [_name(m["$ref"]) for m in document["channels"]["commands"]["messages"].values()]
    rows = [
        "## Commands",
        "",
        "Every command is a `CommandEnvelope` (`id`, `type`, `payload`, optional"
        " `idempotency_key`, `deadline`, `account`; docs/topics.md) whose `type` names one of"
        " these and whose `payload` has the fields below. Unknown payload fields are refused.",
        "",
        "| command | kind | vendor endpoint | summary |",
        "|---|---|---|---|",
    ]
    for name in names:
        m = messages[name]
        rows.append(
            f"| [{name}](#{name.lower()}) | {m['x-command-kind']} | `{m['x-vendor-endpoint']}` |"
            f" {_cell(m['summary'])} |"
        )
    rows.append("")
    for name in names:
        rows += _command_section(document, name, messages[name])
    return rows


def _messages_section(document: dict[str, Any], channel: str, title: str) -> list[str]:
    messages = document["components"]["messages"]
    rows = [f"## {title}", ""]
    for ref in document["channels"][channel]["messages"].values():
        name = _name(ref["$ref"])
        message = messages[name]
        rows += [f"### {name}", "", _cell(message["summary"])]
        if message.get("description"):
            rows += ["", _cell(message["description"])]
        rows += ["", f"Payload `{_name(message['payload']['$ref'])}`.", ""]
    return rows


def _referenced(document: dict[str, Any], names: list[str]) -> list[str]:
    """``names`` and the named schemas their fields use, each once, in order of first use."""
    schemas = document["components"]["schemas"]
    seen: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in seen or name not in schemas:
            continue
        seen.append(name)
        pending += [_name(ref) for ref in _refs(schemas[name].get("properties", {}))]
    return seen


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _fields_section(document: dict[str, Any], title: str, schema_names: list[str]) -> list[str]:
    """A field table per schema of ``schema_names`` and per named schema their fields use."""
    rows = [f"## {title}", ""]
    for name in _referenced(document, schema_names):
        schema = document["components"]["schemas"][name]
        rows += [f"`{name}`:", "", *_field_table(schema), ""]
    return rows


def _keys_section(document: dict[str, Any]) -> list[str]:
    rows = ["## Kafka keys", "", "| key | used by | schema |", "|---|---|---|"]
    messages = document["components"]["messages"].values()
    for name, binding in document["components"]["messageBindings"].items():
        ref = f"#/components/messageBindings/{name}"
        users = sum(1 for m in messages if m["bindings"]["$ref"] == ref)
        key = binding["kafka"]["key"]
        rows.append(f"| {name} | {users} messages | {key['type']}: {_cell(key['description'])} |")
    return [*rows, ""]


def _event_data_schemas(document: dict[str, Any]) -> list[str]:
    """The names of the change events' ``data`` schemas, in channel order."""
    messages = document["components"]["messages"]
    names = []
    for ref in document["channels"]["events"]["messages"].values():
        event = _schema(document, messages[_name(ref["$ref"])]["payload"]["$ref"])
        names.append(_name(event["properties"]["data"]["$ref"]))
    return names


def render_contract_doc(document: dict[str, Any]) -> str:
    """The Markdown reference of ``document`` (the AsyncAPI document of the gateway)."""
    lines = [
        "# The Kafka contract, message by message",
        "",
        "<!-- Written by `gateway schemas` from schemas/asyncapi.json; `gateway schemas --check`"
        " fails when it is stale. Do not edit by hand. -->",
        "",
        f"AsyncAPI {document['asyncapi']}, `schemas/asyncapi.json` (version"
        f" {document['info']['version']}). How to use the topics (keys, ordering, idempotency,"
        " reading results): [topics.md](topics.md).",
        "",
        *_channels_section(document),
        "",
        *_keys_section(document),
        *_fields_section(
            document, "Headers", ["CommandHeaders", "ResultHeaders", "ChangeEventHeaders"]
        ),
        *_error_codes_section(),
        "",
        *_commands_section(document),
        *_messages_section(document, "results", "Results"),
        *_fields_section(document, "Result fields", ["ResultData", "VendorStatus", "ErrorInfo"]),
        *_messages_section(document, "events", "Change events"),
        *_fields_section(document, "Change event data", _event_data_schemas(document)),
        *_messages_section(document, "deadLetters", "Dead letters"),
        *_fields_section(document, "Dead-letter headers", ["DeadLetterHeaders"]),
    ]
    return "\n".join(lines).rstrip() + "\n"
