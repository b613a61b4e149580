"""Records stay under the size limit: a huge result becomes a compact one, never a stuck batch."""

from __future__ import annotations

import json

import pytest

from gateway.commands.outbound import (
    MAX_RECORD_BYTES,
    RecordTooLargeError,
    clip,
    dead_letter,
    record_bytes,
    result_record,
    sender_of,
    traceparent_of,
)
from gateway.messages.headers import DLQ_SOURCE_OFFSET, DLQ_VALUE_OMITTED
from gateway.messages.results import ErrorInfo, ResultData


def _result(**fields: object) -> ResultData:
    base: dict[str, object] = {
        "command_id": "c1",
        "command_type": "RoomList",
        "idempotency_key": "c1",
        "status": "succeeded",
        "endpoint": "/room/list",
    }
    return ResultData.model_validate({**base, **fields})


def _record(data: ResultData, key: bytes | None = b"k") -> dict[str, object]:
    out = result_record("results", key, data, prefix="avd", source="/gw", traceparent=None)
    assert record_bytes(out) <= MAX_RECORD_BYTES
    event: dict[str, object] = json.loads(out.value)
    return event


def test_clip_marks_what_it_cut() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("x" * 300, 10) == "x" * 10 + "…(+290 chars)"


def test_small_result_is_unchanged() -> None:
    event = _record(_result(result={"rooms": [1, 2]}))
    assert event["data"]["result"] == {"rooms": [1, 2]}  # type: ignore[index]


def test_huge_vendor_answer_keeps_the_outcome_and_drops_the_body() -> None:
    event = _record(_result(result={"rooms": ["r" * 1000] * 2000}))
    data = event["data"]
    assert data["status"] == "succeeded"  # type: ignore[index]
    assert data["result"] is None  # type: ignore[index]
    assert data["error"]["error_class"] == "ResultTooLarge"  # type: ignore[index]
    assert data["command_id"] == "c1"  # type: ignore[index]


def test_huge_echoed_type_is_clipped() -> None:
    huge = "T" * 400_000
    error = ErrorInfo(error_class="UnknownCommandType", message=f"unknown command type {huge!r}")
    event = _record(_result(command_type=huge, status="rejected", error=error))
    assert len(event["data"]["command_type"]) < 300  # type: ignore[index]
    assert event["subject"] == event["data"]["command_type"]  # type: ignore[index]


def test_result_that_cannot_fit_raises() -> None:
    with pytest.raises(RecordTooLargeError):
        result_record(
            "results",
            b"k" * MAX_RECORD_BYTES,
            _result(),
            prefix="avd",
            source="/gw",
            traceparent=None,
        )


def test_dead_letter_of_a_record_at_the_limit_omits_the_value_but_points_back() -> None:
    value = b"v" * (MAX_RECORD_BYTES - 10)
    record = dead_letter(
        "dlq",
        key=b"k",
        value=value,
        headers=[],
        reason="value is not JSON",
        error_class="NotAnEnvelope",
        source_topic="commands",
        partition=0,
        offset=42,
    )
    headers = dict(record.headers)
    assert record.value == b""
    assert headers[DLQ_VALUE_OMITTED] == str(len(value)).encode()
    assert headers[DLQ_SOURCE_OFFSET] == b"42"
    assert record_bytes(record) <= MAX_RECORD_BYTES


def test_dead_letter_of_a_normal_record_keeps_the_bytes() -> None:
    record = dead_letter(
        "dlq",
        key=b"k",
        value=b"garbage",
        headers=[("x", b"1")],
        reason="r",
        error_class="NotAnEnvelope",
        source_topic="commands",
        partition=0,
        offset=1,
    )
    assert record.value == b"garbage"
    assert DLQ_VALUE_OMITTED not in dict(record.headers)


def test_sender_is_read_from_the_command_and_carried_to_the_result() -> None:
    """The ingress's gateway-sender header names the result's sender (extension and header);
    an ill-formed one is ignored, and a command without one gives a result without one."""
    assert sender_of([("traceparent", b"00-x"), ("gateway-sender", b"key-0123abcd")]) == (
        "key-0123abcd"
    )
    assert sender_of([("gateway-sender", b"crm\r\nx")]) is None
    assert sender_of([("gateway-sender", b"x" * 65)]) is None
    assert sender_of([]) is None
    out = result_record(
        "results", b"k", _result(), prefix="avd", source="/gw", traceparent=None, sender="crm"
    )
    assert json.loads(out.value)["sender"] == "crm"
    assert ("gateway-sender", b"crm") in out.headers
    assert "sender" not in _record(_result())


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe\x00garbage",
        b"00-zz-yy-01",
        b"00-" + b"0" * 32 + b"-" + b"1" * 16 + b"-01",  # an all-zero trace id is invalid
        b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # uppercase hex
    ],
)
def test_a_garbage_traceparent_is_not_carried_on(value: bytes) -> None:
    """A sender's ill-formed trace context never reaches the result (nor breaks it)."""
    assert traceparent_of([("traceparent", value)]) is None


def test_a_well_formed_traceparent_is_carried_on() -> None:
    """A W3C traceparent travels to the result unchanged."""
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert traceparent_of([("TraceParent", good.encode())]) == good
