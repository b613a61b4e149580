"""Reading commands off Kafka records: a command, a rejection, or a dead letter."""

from __future__ import annotations

import json

import pytest

from gateway.messages.envelope import InvalidEnvelopeError, NotAnEnvelopeError, parse_command

BINARY = [("ce_specversion", b"1.0"), ("ce_type", b"RoomList"), ("ce_source", b"/x")]


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (b"", []),
        (b"\xff\xfe", []),
        (b"[1, 2]", []),
        (b'{"type": "RoomList", "payload": {}}', []),
        (b'{"id": "", "type": "RoomList", "payload": {}}', []),
        (b"{}", [*BINARY, ("ce_id", b"")]),
        (b"{}", [*BINARY, ("ce_id", b"   ")]),
        (b'{"specversion": "1.0", "type": "RoomList", "data": {}}', []),
    ],
)
def test_bytes_without_a_command_id_are_not_envelopes(
    value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    """No id means no result can be correlated: these go to the DLQ."""
    with pytest.raises(NotAnEnvelopeError):
        parse_command(value, headers)


def test_an_envelope_with_an_id_but_wrong_fields_is_rejected_with_the_fields() -> None:
    """Invalid envelopes keep their id so the rejection can be correlated."""
    with pytest.raises(InvalidEnvelopeError) as info:
        parse_command(
            json.dumps({"id": "c1", "type": "RoomList", "payload": [], "extra": 1}).encode()
        )
    assert info.value.command_id == "c1"
    assert {f["field"] for f in info.value.fields} == {"payload", "extra"}


def test_binary_cloudevent_with_data_that_is_not_json_is_rejected() -> None:
    """A binary CloudEvent has an id, so bad data is a rejection, not a dead letter."""
    with pytest.raises(InvalidEnvelopeError) as info:
        parse_command(b"not json", [*BINARY, ("ce_id", b"c2")])
    assert info.value.command_id == "c2"


def test_three_shapes_parse_to_the_same_command() -> None:
    """Plain JSON, structured and binary CloudEvents carry the same command."""
    plain = parse_command(json.dumps({"id": "c3", "type": "RoomList", "payload": {}}).encode())
    structured = parse_command(
        json.dumps(
            {"specversion": "1.0", "id": "c3", "type": "RoomList", "source": "/x", "data": {}}
        ).encode()
    )
    binary = parse_command(b"{}", [*BINARY, ("ce_id", b"c3")])
    assert plain == structured == binary


@pytest.mark.parametrize("deadline", ["-1", "+1", "0", 1795800000, "2026-11-27", "tomorrow", []])
def test_a_deadline_that_is_no_timestamp_is_rejected(deadline: object) -> None:
    """Numbers and numeric strings would parse as Unix times and fail as expired: rejected."""
    body = {"id": "c1", "type": "RoomList", "payload": {}, "deadline": deadline}
    with pytest.raises(InvalidEnvelopeError) as raised:
        parse_command(json.dumps(body).encode())
    assert [f["field"] for f in raised.value.fields] == ["deadline"]


@pytest.mark.parametrize("deadline", ["2026-11-27T12:00:00Z", "2026-11-27T12:00:00.5+01:00"])
def test_rfc3339_deadlines_are_accepted(deadline: str) -> None:
    body = {"id": "c1", "type": "RoomList", "payload": {}, "deadline": deadline}
    assert parse_command(json.dumps(body).encode()).deadline is not None


@pytest.mark.parametrize("specversion", [None, b"", b"0.3", b"\xc6=\x0cQ", b"1.0 "], ids=repr)
def test_binary_cloudevent_of_another_or_no_specversion_is_refused(
    specversion: bytes | None,
) -> None:
    """A known type with a usable payload is not enough: headers that only look like a
    CloudEvent (the full chaos run's fuzz found one) get a rejected result, never a call."""
    headers = [("ce_id", b"ce-1"), ("ce_type", b"RoomList")]
    if specversion is not None:
        headers.append(("ce_specversion", specversion))
    with pytest.raises(InvalidEnvelopeError) as caught:
        parse_command(b'{"topic": "x"}', headers)
    assert caught.value.command_id == "ce-1"
    assert caught.value.fields == [{"field": "specversion", "reason": 'must be "1.0"'}]


def test_structured_cloudevent_without_specversion_is_refused() -> None:
    body = b'{"id": "ce-2", "type": "RoomList", "data": {}}'
    with pytest.raises(InvalidEnvelopeError):
        parse_command(body, [("content-type", b"application/cloudevents+json")])
    assert parse_command(body.replace(b'{"id', b'{"specversion": "1.0", "id'), []).type == (
        "RoomList"
    )
