"""Change events on the wire: CloudEvents that match their published schemas."""

from __future__ import annotations

import json

from gateway.messages.changes import (
    CHANGE_NAMES,
    ParticipantInfo,
    change_event,
    change_event_bytes,
)
from gateway.messages.events import CHANGE_EVENTS
from gateway.poller.diff import Observation, diff
from gateway.poller.model import PollerState, participants_from_vendor
from tests.unit.poller.builders import T0, T1, counters, person, room


def _every_kind_of_change() -> list[dict[str, object]]:
    first = diff(
        PollerState(),
        Observation(
            T0,
            rooms={"r1": room("r1"), "r2": room("r2")},
            participants={"r1": {"a": person("a"), "b": person("b")}, "r2": {}},
            statistics={"r1": counters(user_cnt=2)},
            statistics_window=(0, 10),
            servers={"box1": 2},
        ),
    )
    second = diff(
        first.state,
        Observation(
            T1,
            rooms={"r1": room("r1")},
            participants={"r1": {"a": person("a", audio="init"), "c": person("c")}},
            statistics={"r1": counters(user_cnt=3)},
            statistics_window=(5, 15),
            servers={},
        ),
    )
    return [
        change_event(c.name, c.data, subject=c.subject, key=c.key, prefix="avd", source="/gw")
        for c in first.changes + second.changes
    ]


def test_every_event_validates_against_its_model() -> None:
    """Each of the seven event types occurs and matches the model its schema comes from."""
    events = _every_kind_of_change()
    seen = set()
    for event in events:
        name = str(event["type"]).removeprefix("avd.")
        CHANGE_EVENTS[name].model_validate(json.loads(change_event_bytes(event)))  # type: ignore[index]
        seen.add(name)
    assert seen == set(CHANGE_NAMES)


def test_cloudevent_attributes() -> None:
    """specversion, type with prefix, subject, time = observed_at, partitionkey = Kafka key."""
    event = _every_kind_of_change()[0]
    assert event["specversion"] == "1.0"
    assert event["type"] == "avd.room.opened"
    assert event["subject"] == "rooms/r1"
    assert event["time"] == T0
    assert event["partitionkey"] == "r1"
    assert event["datacontenttype"] == "application/json"


def test_ids_are_deterministic_and_unique() -> None:
    """Building the same events twice gives the same ids; no two events share one."""
    ids = [e["id"] for e in _every_kind_of_change()]
    assert ids == [e["id"] for e in _every_kind_of_change()]
    assert len(set(ids)) == len(ids)


def test_participants_from_the_simulator_shape_validate() -> None:
    """A participant as the simulator answers it fits ParticipantInfo."""
    raw = {
        "user_name": "n",
        "user_id": "16",
        "status": 1,
        "videos": [
            {
                "level": 0,
                "status": "published",
                "id": "16_v",
                "type": "video",
                "ctype": "unknown",
                "name": "cam",
                "description": "",
            }
        ],
        "type": "web",
        "audios": [
            {"description": "", "type": "Audio", "status": "published", "name": "mic", "id": "16_a"}
        ],
    }
    (participant,) = participants_from_vendor([raw]).values()
    ParticipantInfo.model_validate(participant.to_json())
