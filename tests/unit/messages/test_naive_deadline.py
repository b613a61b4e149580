"""A deadline without a UTC offset is refused: it meant two different instants.

Before the fix, ``CommandEnvelope.expired`` read a naive deadline as UTC while the handler's
rate-limit and retry budget read it (``datetime.timestamp``) as local time: under
TZ=Europe/Berlin an hour apart, so a command 30 minutes from its deadline was "not expired"
and at the same time "an hour past it" for every vendor request.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.commands.results import invalid_envelope
from gateway.messages.envelope import InvalidEnvelopeError, parse_command


@pytest.fixture
def berlin() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.usefixtures("berlin")
def test_a_naive_deadline_is_rejected_naming_the_field() -> None:
    naive = (datetime.now(UTC) + timedelta(minutes=30)).replace(tzinfo=None).isoformat()
    body = {"id": "c-naive", "type": "RoomList", "payload": {}, "deadline": naive}
    try:
        command = parse_command(json.dumps(body).encode())
    except InvalidEnvelopeError as exc:
        result = invalid_envelope(exc)
    else:  # the old behaviour: accepted, and read two ways
        as_utc = not command.expired()
        as_local = command.deadline.timestamp() if command.deadline else None
        pytest.fail(
            f"naive deadline accepted: expired() says not expired ({as_utc}), while its"
            f" timestamp() is {time.time() - (as_local or 0):.0f} s in the past"
        )
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.error_class == "InvalidEnvelope"
    assert [f["field"] for f in result.error.fields or []] == ["deadline"]
    assert "offset" in (result.error.fields or [{}])[0]["reason"]


@pytest.mark.usefixtures("berlin")
def test_an_offset_deadline_is_one_instant_everywhere() -> None:
    """With an offset, ``deadline_ts`` (what every step reads) and ``expired`` agree."""
    deadline = datetime.now(UTC) + timedelta(minutes=30)
    body = {"id": "c", "type": "RoomList", "payload": {}, "deadline": deadline.isoformat()}
    command = parse_command(json.dumps(body).encode())
    assert command.deadline_ts == pytest.approx(deadline.timestamp())
    assert not command.expired()
    assert command.expired(now=deadline.timestamp())
