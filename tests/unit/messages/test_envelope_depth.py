"""Deeply nested JSON is refused at once (rejected under its id, or a dead letter without one),
never raised as RecursionError, which the consumer would retry as an infrastructure fault."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from chaos.fuzz import _deep
from gateway.messages.envelope import (
    MAX_JSON_DEPTH,
    InvalidEnvelopeError,
    NotAnEnvelopeError,
    json_depth,
    parse_command,
)
from gateway.webhooks.signature import signed_headers
from tests.unit.webhooks.fakes import NEW_SECRET, build_harness


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def envelope_with(depth: int) -> bytes:
    return b'{"id":"deep-1","type":"RoomCreate","payload":{"topic":' + nested(depth) + b"}}"


def test_json_depth_counts_without_recursion() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    deep = json.loads(nested(900))
    assert json_depth(deep) == MAX_JSON_DEPTH + 1  # stops counting past the limit


def test_an_envelope_within_the_limit_parses() -> None:
    command = parse_command(envelope_with(MAX_JSON_DEPTH - 3))
    assert command.id == "deep-1"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 200, 900])
def test_a_readable_envelope_nested_too_deep_is_rejected_under_its_id(depth: int) -> None:
    with pytest.raises(InvalidEnvelopeError) as caught:
        parse_command(envelope_with(depth))
    assert caught.value.command_id == "deep-1"
    assert caught.value.fields == [
        {"field": "payload", "reason": f"nested deeper than {MAX_JSON_DEPTH} levels"}
    ]


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_json_too_deep_to_parse_is_not_an_envelope(depth: int) -> None:
    """Python's json raises RecursionError here; it must surface as a dead letter."""
    with pytest.raises(NotAnEnvelopeError, match="nested deeper"):
        parse_command(envelope_with(depth))


@pytest.mark.parametrize("depth", [100, 100_000])
def test_binary_cloudevent_data_nested_too_deep_is_rejected(depth: int) -> None:
    headers = [("ce_id", b"deep-ce"), ("ce_type", b"RoomList"), ("ce_specversion", b"1.0")]
    with pytest.raises(InvalidEnvelopeError) as caught:
        parse_command(nested(depth), headers)
    assert caught.value.command_id == "deep-ce"


def test_the_fuzzers_deep_category_expects_what_the_gateway_does() -> None:
    """chaos/fuzz.py's expected outcome of its "deeply nested JSON" records holds."""
    rng = random.Random(7)
    seen = set()
    for n in range(40):
        made = _deep(f"deep-{n}", rng)
        expected = InvalidEnvelopeError if made.expect == "rejected" else NotAnEnvelopeError
        with pytest.raises(expected):
            parse_command(made.value, made.headers)
        seen.add((made.expect, bool(made.headers)))
    assert seen == {("rejected", False), ("dlq", False), ("rejected", True)}


@pytest.mark.parametrize("depth", [200, 50_000])
async def test_a_signed_request_nested_too_deep_is_422_not_500(depth: int) -> None:
    harness = build_harness(max_body_bytes=1_000_000)
    body = envelope_with(depth)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await http.post(
            "/v1/commands", content=body, headers=signed_headers(NEW_SECRET, body)
        )
    assert response.status_code == 422, response.text
    assert "nested deeper" in response.json()["detail"]
    assert harness.publisher.records == []
