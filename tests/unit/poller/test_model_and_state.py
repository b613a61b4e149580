"""Parsing the vendor's answers, and the snapshot's durable records (encode, parse)."""

from __future__ import annotations

import json

from gateway.poller.diff import Observation, diff
from gateway.poller.model import (
    Participant,
    PollerState,
    Room,
    RoomState,
    counters_from_vendor,
    participants_from_vendor,
    rooms_from_vendor,
    servers_from_vendor,
)
from gateway.poller.state_store import (
    FORMAT_VERSION,
    encode_records,
    encode_state,
    parse_records,
)


def test_room_list_parsing_tolerates_the_references_types() -> None:
    """create_time as a string, a room without server_id or users, junk entries."""
    listed = rooms_from_vendor(
        [
            {
                "room_id": "1",
                "server_id": "box1",
                "create_time": "1688697174",
                "users": [{"user_id": "a", "user_name": "A", "node_id": 3}],
            },
            {"room_id": "2", "create_time": 1688697215},
            {"no": "room id"},
            "junk",
        ]
    )
    assert set(listed) == {"1", "2"}
    room, users = listed["1"]
    assert (room.server_id, room.create_time, users) == ("box1", 1688697174, {"a": "A"})
    assert listed["2"][0].server_id == ""
    assert listed["2"][1] == {}
    assert rooms_from_vendor(None) == {}


def test_participant_parsing_keeps_stream_states() -> None:
    """Status as a string, streams sorted by id, video-only fields only on videos."""
    (participant,) = participants_from_vendor(
        [
            {
                "user_id": "16",
                "user_name": "n",
                "status": "1",
                "type": "web",
                "videos": [{"id": "v", "level": 0, "status": "published", "ctype": "unknown"}],
                "audios": [{"id": "b", "status": "init"}, {"id": "a", "status": "published"}],
            }
        ]
    ).values()
    assert participant.status == 1
    assert [s.id for s in participant.audios] == ["a", "b"]
    as_json = participant.to_json()
    assert as_json["videos"][0]["level"] == 0
    assert "level" not in as_json["audios"][0]
    assert Participant.from_json(as_json) == participant


def test_counters_and_server_counts() -> None:
    """A missing counter counts 0; user counts by server id."""
    assert counters_from_vendor({"user_cnt": "4"})["user_cnt"] == 4
    assert counters_from_vendor({})["web_cnt"] == 0
    assert servers_from_vendor([{"server_id": "box1", "user_count": "2"}, {}]) == {"box1": 2}
    assert servers_from_vendor(None) == {}


def test_records_round_trip_to_the_same_snapshot() -> None:
    """encode_records of a diff, parsed back, gives the diff's state."""
    participants = participants_from_vendor(
        [{"user_id": "a", "audios": [{"id": "a1", "status": "published"}]}]
    )
    rooms = {room_id: room for room_id, (room, _) in rooms_from_vendor([{"room_id": "r1"}]).items()}
    result = diff(
        PollerState(),
        Observation(
            "2026-01-01T00:00:00Z",
            rooms=rooms,
            participants={"r1": participants},
            statistics={"r1": counters_from_vendor({"user_cnt": 1})},
            statistics_window=(0, 1),
            servers={"box1": 1},
        ),
    )
    records = dict(encode_records(result, "eu"))
    assert set(records) == {b"eu/room:r1", b"eu/server:box1", b"eu/meta"}
    value = records[b"eu/room:r1"]
    assert value is not None
    assert json.loads(value)["v"] == FORMAT_VERSION
    snapshot = parse_records(dict(records.items()))
    assert snapshot.accounts == {"eu": result.state}
    assert snapshot.of("default") == PollerState()
    assert snapshot.legacy_keys == set()


def test_a_finished_room_is_a_tombstone() -> None:
    """A room whose final statistics are out is written as a null value (deleted)."""
    opened = diff(PollerState(rooms_seen=True), Observation("T0", rooms={"r1": Room("r1")}))
    finished = diff(
        opened.state,
        Observation(
            "T1",
            rooms={},
            final_statistics={"r1": counters_from_vendor({})},
            statistics_window=(0, 1),
        ),
    )
    assert dict(encode_records(finished, "default")) == {b"default/room:r1": None}
    loaded = parse_records(dict(encode_records(opened)) | dict(encode_records(finished)))
    assert loaded.of("default").rooms == {}


def test_records_of_format_1_load_as_the_default_account_and_are_rewritten() -> None:
    """Keys without an account (format 1) are the default account's; rewriting the state
    writes every record under the new keys and deletes the old ones."""
    old = {
        b"room:r1": json.dumps({"v": 1, "seq": 3, "room": {"room_id": "r1"}}).encode(),
        b"meta": json.dumps({"v": 1, "rooms_seen": True, "servers_seen": False}).encode(),
    }
    snapshot = parse_records(old)
    state = snapshot.of("default")
    assert (state.rooms["r1"].seq, state.rooms_seen) == (3, True)
    assert snapshot.legacy_keys == {b"room:r1", b"meta"}
    rewritten = dict(encode_state(state, "default", delete=snapshot.legacy_keys))
    assert (rewritten[b"room:r1"], rewritten[b"meta"]) == (None, None)
    assert set(rewritten) - set(old) == {b"default/room:r1", b"default/meta"}
    assert parse_records(old | rewritten).accounts == {"default": state}


def test_a_closing_room_keeps_what_its_final_statistics_need() -> None:
    """The record of a closing room: no room or participants; its sequence, last statistics,
    opening and when it closed."""
    state = RoomState(seq=7, statistics={"user_cnt": 2}, opened_at="T0", closed_at=12.5)
    assert RoomState.from_json(state.to_json()) == state
    assert state.to_json() == {
        "seq": 7,
        "room": None,
        "initial": False,
        "participants": None,
        "statistics": {"user_cnt": 2},
        "opened_at": "T0",
        "closed_at": 12.5,
        "details_pending": False,
    }


def test_deleted_and_unknown_records_are_skipped() -> None:
    """A tombstone (None) and a record of another format version do not load."""
    state = parse_records(
        {
            b"eu/room:gone": None,
            b"eu/room:future": json.dumps({"v": 99, "seq": 1}).encode(),
            b"eu/server:box1": json.dumps(
                {"v": FORMAT_VERSION, "seq": 2, "user_count": 3}
            ).encode(),
        }
    ).of("eu")
    assert state.rooms == {}
    assert state.servers["box1"].user_count == 3
    assert (state.rooms_seen, state.servers_seen) == (False, False)
