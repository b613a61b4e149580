"""What the typed producer fills in on a command's record (docs/topics.md, "Sending a command")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from gateway.client.record import build_envelope, command_record, trace_headers
from gateway.messages.envelope import parse_command

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def test_the_envelope_has_what_was_given_and_nothing_else() -> None:
    bare = build_envelope("RoomList", {})
    assert set(bare) == {"id", "type", "payload"}
    deadline = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    full = build_envelope(
        "RoomCreate",
        {"topic": "Weekly"},
        idempotency_key="crm-991",
        account="east",
        command_id="c-1",
        deadline=deadline,
    )
    assert full == {
        "id": "c-1",
        "type": "RoomCreate",
        "payload": {"topic": "Weekly"},
        "idempotency_key": "crm-991",
        "deadline": "2026-11-27T12:00:00Z",
        "account": "east",
    }
    parsed = parse_command(command_record(full).value)
    assert parsed.deadline == deadline
    assert parsed.effective_idempotency_key == "crm-991"


def test_a_deadline_keeps_its_offset_and_one_without_is_refused() -> None:
    berlin = datetime(2026, 11, 27, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert (
        build_envelope("RoomList", {}, deadline=berlin)["deadline"] == "2026-11-27T13:00:00+01:00"
    )
    with pytest.raises(ValueError, match="offset"):
        build_envelope("RoomList", {}, deadline=datetime(2026, 11, 27, 12, 0))


@pytest.mark.parametrize(
    ("payload", "key", "expected"),
    [
        ({"room_id": "12345123456", "topic": "x"}, None, b"12345123456"),
        ({"room_id": "12345123456"}, "other", b"other"),
        ({"topic": "x"}, None, None),
        ({}, "k", b"k"),
    ],
    ids=["room-id", "explicit-key", "no-room", "explicit-without-room"],
)
def test_the_key_is_the_room_id_unless_given(
    payload: dict[str, str], key: str | None, expected: bytes | None
) -> None:
    assert command_record(build_envelope("RoomCreate", payload), key=key).key == expected


def test_outside_a_span_the_traceparent_is_a_fresh_trace() -> None:
    first, second = dict(trace_headers()), dict(trace_headers())
    assert _TRACEPARENT.match(first["traceparent"].decode())
    assert first["traceparent"] != second["traceparent"]


def test_inside_a_span_the_traceparent_continues_it() -> None:
    span_context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))
    try:
        headers = dict(trace_headers())
    finally:
        otel_context.detach(token)
    assert headers["traceparent"] == b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
