"""The result event's id is uuid5(RESULT_NAMESPACE, command id), computed without a UUID."""

from __future__ import annotations

import uuid

import pytest

from gateway.messages.results import RESULT_NAMESPACE, result_event_id


@pytest.mark.parametrize("command_id", ["c-1", "", "é漢字🙂", "x" * 5000, "00000000-0000"])
def test_result_event_id_is_uuid5_of_the_command_id(command_id: str) -> None:
    """Byte for byte what uuid.uuid5 gives, so ids stay stable across versions."""
    assert result_event_id(command_id) == str(uuid.uuid5(RESULT_NAMESPACE, command_id))
