"""Malformed command records, drawn from hypothesis strategies (``strategy.example()``), each
with what the gateway must do with it: a *rejected* result under the command id it can read,
or a dead letter when no command id can be read (README, "Bad input").

Every record that carries an id gets a fresh unique one (``ID`` below is replaced), so each
outcome can be matched to its record; dead letters are matched by their
``dlq-source-partition`` / ``dlq-source-offset`` headers.
"""

from __future__ import annotations

import json
import random
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning

from gateway.vendor_api import BY_COMMAND

__all__ = ["Malformed", "draw_malformed"]


@dataclass
class Malformed:
    """One record and its expected outcome."""

    category: str
    expect: str  # "rejected" (a result under ``ident``) or "dlq"
    ident: str  # the command id the gateway can read, or a synthetic id for dead letters
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
not_a_dict = json_scalars | st.lists(json_values, max_size=4)
not_a_string = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)
)
unknown_types = st.text(min_size=1, max_size=60).filter(lambda t: t not in BY_COMMAND)
keys = st.none() | st.binary(min_size=0, max_size=40)
header_bytes = st.binary(max_size=60)
# Mutations whose payloads need a string "topic"/"room_id": a wrong type can never pass.
needs_string = st.sampled_from(["RoomCreate", "RoomUpdate", "RoomDelete", "RoomClose"])


def _example(strategy: st.SearchStrategy[Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return strategy.example()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass")


def _readable_id(value: bytes | None) -> bool:
    """Whether these bytes parse as a JSON object with a non-empty string id (the garbage
    strategies must not produce a valid envelope by chance)."""
    try:
        body = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and (
        (isinstance(body.get("id"), str) and body["id"] != "") or "specversion" in body
    )


Builder = Callable[[str, random.Random], Malformed]


def _garbage(ident: str, rng: random.Random) -> Malformed:
    for _ in range(20):
        value = _example(st.binary(max_size=400))
        if not _readable_id(value):
            return Malformed("garbage bytes", "dlq", ident, value, _example(keys))
    return Malformed("garbage bytes", "dlq", ident, b"\xff\xfe not json", None)


def _tombstone(ident: str, rng: random.Random) -> Malformed:
    value = rng.choice([None, b""])
    key = _example(st.binary(min_size=1, max_size=20)) if value is None else _example(keys)
    return Malformed("empty / null value", "dlq", ident, value, key)  # a tombstone needs a key


def _json_not_object(ident: str, rng: random.Random) -> Malformed:
    return Malformed(
        "JSON, not an object", "dlq", ident, _dumps(_example(not_a_dict)), _example(keys)
    )


def _json_without_id(ident: str, rng: random.Random) -> Malformed:
    body = _example(
        st.dictionaries(st.text(max_size=10).filter(lambda k: k != "id"), json_values, max_size=5)
    )
    if rng.random() < 0.5:
        body.update(type=rng.choice(list(BY_COMMAND)), payload={})
    return Malformed("JSON without id", "dlq", ident, _dumps(body), _example(keys))


def _id_wrong_type(ident: str, rng: random.Random) -> Malformed:
    bad = _example(not_a_string | st.just(""))
    body = {"id": bad, "type": "RoomCreate", "payload": {"topic": "x"}}
    return Malformed("id of the wrong type or empty", "dlq", ident, _dumps(body), _example(keys))


def _wrong_types(ident: str, rng: random.Random) -> Malformed:
    body: dict[str, Any] = {"id": ident, "type": "RoomList", "payload": {}}
    broken = rng.choice(["type", "payload", "deadline", "account", "idempotency_key", "extra"])
    if broken == "type":
        body["type"] = _example(not_a_string | st.just(""))
    elif broken == "payload":
        body["payload"] = _example(not_a_dict)
    elif broken == "deadline":
        body["deadline"] = _example(
            st.text(max_size=20).filter(lambda s: not s[:1].isdigit())
            | st.lists(json_scalars, max_size=2)
        )
    elif broken == "account":
        body["account"] = _example(st.just("") | st.integers() | st.lists(json_scalars, max_size=2))
    elif broken == "idempotency_key":
        body["idempotency_key"] = _example(
            st.just("")
            | st.integers()
            | st.dictionaries(st.text(max_size=3), json_scalars, max_size=2)
        )
    else:
        body[
            _example(
                st.text(min_size=1, max_size=12).filter(
                    lambda k: k not in body and k not in ("deadline", "account", "idempotency_key")
                )
            )
        ] = _example(json_values)
    return Malformed(f"wrong type: {broken}", "rejected", ident, _dumps(body), _example(keys))


def _unknown_type(ident: str, rng: random.Random) -> Malformed:
    body = {
        "id": ident,
        "type": _example(unknown_types),
        "payload": _example(st.dictionaries(st.text(max_size=8), json_values, max_size=4)),
    }
    return Malformed("unknown command type", "rejected", ident, _dumps(body), _example(keys))


def _bad_payload(ident: str, rng: random.Random) -> Malformed:
    command = _example(needs_string)
    field_name = "topic" if command == "RoomCreate" else "room_id"
    payload = _example(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    payload[field_name] = _example(not_a_string)
    body = {"id": ident, "type": command, "payload": payload}
    return Malformed(
        "payload not matching the endpoint", "rejected", ident, _dumps(body), _example(keys)
    )


def _huge(ident: str, rng: random.Random) -> Malformed:
    size = rng.randint(10_000, 600_000)
    text = _example(st.text(min_size=1, max_size=30)) * (size + 1)
    text = text.encode("utf-8", "surrogatepass")[:size].decode("utf-8", "ignore") or "x" * size
    kind = rng.choice(["type", "id", "payload", "garbage"])
    for _ in range(20):  # JSON escapes can grow the text up to six-fold: stay below 900 kB
        made = _huge_record(kind, ident, text, size)
        if len(made.value or b"") <= 900_000:
            return made
        text, size = text[: len(text) // 2], size // 2
    return made


def _huge_record(kind: str, ident: str, text: str, size: int) -> Malformed:
    if kind == "type":  # an unknown command type, huge
        body = {"id": ident, "type": "Huge" + text, "payload": {}}
        return Malformed("huge string: type", "rejected", ident, _dumps(body), None)
    if kind == "id":  # an id over the envelope's 200 characters
        big_id = f"{ident}-{'x' * size}"
        body = {"id": big_id, "type": "RoomList", "payload": {}}
        return Malformed("huge string: id", "rejected", big_id, _dumps(body), None)
    if kind == "payload":  # a payload field of the wrong type next to a huge one
        body = {"id": ident, "type": "RoomCreate", "payload": {"topic": 1, "junk": text}}
        return Malformed("huge string: payload", "rejected", ident, _dumps(body), None)
    value = b"\x00" + text.encode("utf-8", "surrogatepass")
    return Malformed("huge garbage", "dlq", ident, value, None)


def _deep(ident: str, rng: random.Random) -> Malformed:
    """JSON nested far deeper than any command (README "Bad input"): readable but over the
    gateway's depth limit, a rejected result under its id; too deep for a JSON parser (1,000+
    levels), a dead letter. Either way at once, never retried as an infrastructure fault."""
    parsable = rng.random() < 0.5
    depth = rng.randint(100, 800) if parsable else rng.randint(1_000, 50_000)
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    nested = opener * depth + b"1" + closer * depth
    if rng.random() < 0.5:  # in the payload
        value = b'{"id":' + _dumps(ident) + b',"type":"RoomCreate","payload":{"topic":' + nested
        value += b"}}"
    else:  # in a binary CloudEvent's data
        headers = [("ce_id", ident.encode()), ("ce_type", b"RoomList"), ("ce_specversion", b"1.0")]
        return Malformed("deeply nested JSON", "rejected", ident, nested, _example(keys), headers)
    expect = "rejected" if parsable else "dlq"
    return Malformed("deeply nested JSON", expect, ident, value, _example(keys))


_VALID_CE_VALUES = frozenset({b"1.0", *(name.encode() for name in BY_COMMAND)})


def _ce_binary(ident: str, rng: random.Random) -> Malformed:
    """Binary-mode CloudEvents with a usable ce_id but everything else broken."""
    headers = [("ce_id", ident.encode())]
    for name in ("ce_specversion", "ce_type", "ce_source"):
        if rng.random() < 0.7:
            drawn = _example(header_bytes)
            if drawn in _VALID_CE_VALUES:
                # Hypothesis also draws constants found in the code ("1.0", "RoomList"): one
                # that makes the headers valid would make the record a valid command.
                drawn = b"\xff" + drawn
            headers.append((rng.choice([name, name.upper()]), drawn))
    value = rng.choice(
        [_example(st.binary(max_size=200)), _dumps(_example(not_a_dict)), _dumps({"topic": 5})]
    )
    if _readable_id(value):
        value = b"\xff"
    return Malformed(
        "CloudEvent headers, broken", "rejected", ident, value, _example(keys), headers
    )


def _ce_binary_without_id(ident: str, rng: random.Random) -> Malformed:
    """ce_ headers but an empty ce_id: no command id can be read, so a dead letter."""
    headers = [("ce_id", b""), ("ce_type", b"RoomList"), ("ce_specversion", b"1.0")]
    value = rng.choice([b"{}", b"not json", _dumps(_example(json_values))])
    return Malformed(
        "CloudEvent headers, empty ce_id", "dlq", ident, value, _example(keys), headers
    )


def _ce_structured(ident: str, rng: random.Random) -> Malformed:
    body: dict[str, Any] = {
        "specversion": _example(st.text(max_size=5) | st.integers()),
        "id": ident,
        "type": _example(unknown_types | st.sampled_from(list(BY_COMMAND))),
        "source": _example(json_scalars),
        "data": _example(not_a_dict),
    }
    headers = [
        (
            "content-type",
            _example(
                st.sampled_from([b"application/cloudevents+json", b"\xff\xfe", b"text/plain"])
            ),
        )
    ]
    return Malformed(
        "structured CloudEvent, broken", "rejected", ident, _dumps(body), _example(keys), headers
    )


def _broken_trace_headers(ident: str, rng: random.Random) -> Malformed:
    """An unknown type, with garbage traceparent / tracestate headers."""
    headers = [("traceparent", _example(header_bytes)), ("tracestate", _example(header_bytes))]
    body = {"id": ident, "type": _example(unknown_types), "payload": {}}
    return Malformed(
        "garbage trace headers", "rejected", ident, _dumps(body), _example(keys), headers
    )


BUILDERS: list[tuple[Builder, float]] = [
    (_garbage, 14),
    (_tombstone, 3),
    (_json_not_object, 8),
    (_json_without_id, 10),
    (_id_wrong_type, 8),
    (_wrong_types, 14),
    (_unknown_type, 10),
    (_bad_payload, 10),
    (_huge, 0.5),
    (_deep, 2),
    (_ce_binary, 10),
    (_ce_binary_without_id, 3),
    (_ce_structured, 6),
    (_broken_trace_headers, 3),
]


def draw_malformed(count: int, rng: random.Random, prefix: str) -> list[Malformed]:
    """``count`` malformed records, categories drawn by weight (at least one huge one)."""
    builders = [b for b, _ in BUILDERS]
    weights = [w for _, w in BUILDERS]
    out = []
    for n in range(count):
        builder = _huge if n == count // 2 else rng.choices(builders, weights)[0]
        out.append(builder(f"{prefix}-m{n}-{uuid.uuid4().hex[:6]}", rng))
    return out
