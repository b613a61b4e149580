"""Pure snapshot diffing: which events, in which order, with which before/after."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gateway.messages.changes import change_id
from gateway.poller.diff import Change, Observation, diff
from gateway.poller.model import COUNTERS, Participant, PollerState
from tests.unit.poller.builders import T0, T1, T2, counters, person, room


def names(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.name, c.subject) for c in changes]


def started() -> PollerState:
    """A state past its first cycle: room r1 open with alice and bob, servers seen."""
    first = diff(
        PollerState(),
        Observation(
            T0,
            rooms={"r1": room("r1")},
            participants={"r1": {"alice": person("alice"), "bob": person("bob")}},
            statistics={"r1": counters(user_cnt=2)},
            statistics_window=(0, 100),
            servers={"box1": 2},
        ),
    )
    return first.state


def test_first_cycle_reports_current_state_as_initial() -> None:
    """A fresh start emits room.opened and participant.joined flagged initial, in order."""
    result = diff(
        PollerState(),
        Observation(
            T0,
            rooms={"r2": room("r2"), "r1": room("r1")},
            participants={"r1": {"bob": person("bob"), "alice": person("alice")}},
            servers={"box1": 2},
        ),
    )
    assert names(result.changes) == [
        ("room.opened", "rooms/r1"),
        ("room.opened", "rooms/r2"),
        ("participant.joined", "rooms/r1/participants/alice"),
        ("participant.joined", "rooms/r1/participants/bob"),
        ("media_server.user_count.changed", "media_servers/box1"),
    ]
    assert all(c.data["initial"] is True for c in result.changes)
    assert [c.data["sequence"] for c in result.changes if c.key == "r1"] == [1, 2, 3]
    assert result.changes[0].data["after"] == {
        "room_id": "r1",
        "server_id": "box1",
        "create_time": 1700000000,
    }
    assert result.changes[0].data["before"] is None
    assert result.meta_dirty
    assert result.dirty_rooms == {"r1", "r2"}
    assert result.dirty_servers == {"box1"}


def test_participants_of_an_initial_room_read_later_are_still_initial() -> None:
    """A room found at the fresh start whose users are read in a later cycle: still initial."""
    first = diff(PollerState(), Observation(T0, rooms={"r1": room("r1")}))
    later = diff(
        first.state,
        Observation(T1, rooms={"r1": room("r1")}, participants={"r1": {"a": person("a")}}),
    )
    assert names(later.changes) == [("participant.joined", "rooms/r1/participants/a")]
    assert later.changes[0].data["initial"] is True
    again = diff(
        later.state,
        Observation(
            T2,
            rooms={"r1": room("r1")},
            participants={"r1": {"a": person("a"), "b": person("b")}},
        ),
    )
    assert [c.data["initial"] for c in again.changes] == [False]


def test_nothing_changed_means_no_events_and_no_dirty_records() -> None:
    """The same observation twice: the second diff is empty."""
    state = started()
    result = diff(
        state,
        Observation(
            T1,
            rooms={"r1": room("r1")},
            participants={"r1": {"alice": person("alice"), "bob": person("bob")}},
            statistics={"r1": counters(user_cnt=2)},
            statistics_window=(5, 105),
            servers={"box1": 2},
        ),
    )
    assert result.changes == []
    assert (result.dirty_rooms, result.dirty_servers, result.meta_dirty) == (set(), set(), False)


def test_a_room_opened_later_is_not_initial() -> None:
    """After the first cycle, a new room and its participants are real changes."""
    result = diff(
        started(),
        Observation(
            T1,
            rooms={"r1": room("r1"), "r3": room("r3")},
            participants={"r3": {"carol": person("carol")}},
        ),
    )
    assert names(result.changes) == [
        ("room.opened", "rooms/r3"),
        ("participant.joined", "rooms/r3/participants/carol"),
    ]
    assert [c.data["initial"] for c in result.changes] == [False, False]


def test_mute_is_a_participant_changed_with_before_and_after() -> None:
    """Muting alice's microphone: participant.changed naming audios, with both states."""
    result = diff(
        started(),
        Observation(
            T1,
            rooms={"r1": room("r1")},
            participants={"r1": {"alice": person("alice", audio="init"), "bob": person("bob")}},
        ),
    )
    (change,) = result.changes
    assert change.name == "participant.changed"
    assert change.key == "r1"
    assert change.data["changed"] == ["audios"]
    assert change.data["before"]["audios"][0]["status"] == "published"
    assert change.data["after"]["audios"][0]["status"] == "init"
    assert change.data["room_id"] == "r1"
    assert change.data["user_id"] == "alice"


def test_status_and_video_changes_are_listed_in_field_order() -> None:
    """Several fields at once: every one is named."""
    changed = replace(person("bob", video="init"), status=2)
    result = diff(
        started(),
        Observation(
            T1,
            rooms={"r1": room("r1")},
            participants={"r1": {"alice": person("alice"), "bob": changed}},
        ),
    )
    assert result.changes[0].data["changed"] == ["status", "videos"]


def test_stream_order_from_the_vendor_does_not_matter() -> None:
    """The same streams listed in another order are no change."""
    raw = {
        "user_id": "x",
        "audios": [{"id": "b", "status": "published"}, {"id": "a", "status": "published"}],
    }
    flipped = {**raw, "audios": list(reversed(raw["audios"]))}
    assert Participant.from_json(raw) == Participant.from_json(flipped)


def test_leaving_is_participant_left_with_the_last_state() -> None:
    """Bob disappears from the participant list: participant.left, before = his last state."""
    result = diff(
        started(),
        Observation(T1, rooms={"r1": room("r1")}, participants={"r1": {"alice": person("alice")}}),
    )
    (change,) = result.changes
    assert change.name == "participant.left"
    assert change.data["reason"] == "left"
    assert change.data["before"]["user_id"] == "bob"
    assert change.data["after"] is None


def test_a_room_that_was_not_read_keeps_its_participants() -> None:
    """A cycle without r1's participant list (read failed) emits no participant.left."""
    result = diff(started(), Observation(T1, rooms={"r1": room("r1")}, participants={}))
    assert result.changes == []
    assert result.state.rooms["r1"].participants is not None
    assert set(result.state.rooms["r1"].participants) == {"alice", "bob"}


def test_a_failed_room_list_changes_nothing() -> None:
    """rooms=None (not read) is not "no rooms": no room.closed."""
    result = diff(started(), Observation(T1, rooms=None, servers=None))
    assert result.changes == []


def test_closing_a_room_lets_everyone_leave_first() -> None:
    """room.closed comes after a participant.left (reason room_closed) per participant."""
    state = started()
    result = diff(state, Observation(T1, rooms={}))
    assert names(result.changes) == [
        ("participant.left", "rooms/r1/participants/alice"),
        ("participant.left", "rooms/r1/participants/bob"),
        ("room.closed", "rooms/r1"),
    ]
    assert {c.data.get("reason") for c in result.changes[:2]} == {"room_closed"}
    assert result.changes[-1].data["before"]["room_id"] == "r1"
    seqs = [c.data["sequence"] for c in result.changes]
    assert seqs == [state.rooms["r1"].seq + 1, state.rooms["r1"].seq + 2, state.rooms["r1"].seq + 3]
    closed = result.state.rooms["r1"]
    assert closed.room is None
    assert closed.seq == seqs[-1]
    assert closed.closed_at is not None  # closing: waits for its final statistics


def test_reopening_a_room_starts_a_new_opening_so_ids_never_repeat() -> None:
    """Open, close (record deleted after the final statistics), open again: the sequence
    starts at 1 again, and the opening keeps the two room.opened ids apart."""
    first = diff(PollerState(rooms_seen=True), Observation(T0, rooms={"r1": room("r1")}))
    closed = diff(
        first.state,
        Observation(T1, rooms={}, final_statistics={"r1": counters()}, statistics_window=(0, 1)),
    )
    assert "r1" not in closed.state.rooms
    again = diff(closed.state, Observation(T2, rooms={"r1": room("r1")}))
    a, b = first.changes[0], again.changes[0]
    assert (a.name, b.name) == ("room.opened", "room.opened")
    assert (a.data["sequence"], b.data["sequence"]) == (1, 1)
    assert (a.opening, b.opening) == (T0, T2)
    assert change_id(a.name, a.subject, a.data, a.opening) != change_id(
        b.name, b.subject, b.data, b.opening
    )


def test_a_closed_room_gets_final_statistics_then_its_record_is_deleted() -> None:
    """room.closed, then room.statistics.changed with final true (even unchanged), then the
    record is removed (a tombstone), in one diff."""
    state = started()
    result = diff(
        state,
        Observation(
            T1,
            observed_ts=1000.0,
            rooms={},
            final_statistics={"r1": counters(user_cnt=2, time_total=60)},
            statistics_window=(0, 200),
        ),
    )
    assert [c.name for c in result.changes][-2:] == ["room.closed", "room.statistics.changed"]
    final = result.changes[-1]
    assert final.data["final"] is True
    assert final.data["changed"] == ["time_total"]
    assert final.data["after"]["time_total"] == 60
    assert final.data["sequence"] == result.changes[-2].data["sequence"] + 1
    assert result.removed_rooms == {"r1"}
    assert "r1" not in result.dirty_rooms
    assert "r1" not in result.state.rooms


def test_a_closed_room_waits_for_its_final_statistics() -> None:
    """The final read failed: the room stays closing (its record written), and a later cycle
    that reads them emits them and deletes it; abandoned rooms are deleted without an event."""
    closed = diff(started(), Observation(T1, observed_ts=1000.0, rooms={}))
    closing = closed.state.rooms["r1"]
    assert (closing.room, closing.closed_at) == (None, 1000.0)
    assert closed.dirty_rooms == {"r1"}
    assert closed.removed_rooms == set()
    assert closed.state.closing_rooms().keys() == {"r1"}
    later = diff(
        closed.state,
        Observation(
            T2, rooms={}, final_statistics={"r1": counters(user_cnt=2)}, statistics_window=(0, 1)
        ),
    )
    (final,) = later.changes
    assert (final.name, final.data["final"], final.data["changed"]) == (
        "room.statistics.changed",
        True,
        [],
    )
    assert later.removed_rooms == {"r1"}
    given_up = diff(closed.state, Observation(T2, abandoned=frozenset({"r1"})))
    assert (given_up.changes, given_up.removed_rooms) == ([], {"r1"})


def test_a_closing_room_that_reopens_starts_a_new_opening() -> None:
    """Reopened before its final statistics could be read: room.opened, sequence 1."""
    closed = diff(started(), Observation(T1, observed_ts=1000.0, rooms={}))
    again = diff(closed.state, Observation(T2, rooms={"r1": room("r1")}))
    (opened,) = again.changes
    assert (opened.name, opened.data["sequence"], opened.opening) == ("room.opened", 1, T2)
    assert again.state.rooms["r1"].closed_at is None
    assert again.dirty_rooms == {"r1"}


def test_membership_comes_from_the_room_list() -> None:
    """Users the list adds or drops are joined / left without a participants read; the new
    ones partial (id and name); their details, read later, are a participant.changed."""
    state = started()
    listed = diff(
        state,
        Observation(
            T1, rooms={"r1": room("r1")}, members={"r1": {"alice": "ALICE", "carol": "Carol"}}
        ),
    )
    assert names(listed.changes) == [
        ("participant.left", "rooms/r1/participants/bob"),
        ("participant.joined", "rooms/r1/participants/carol"),
    ]
    assert listed.changes[1].data["after"] == {
        "user_id": "carol",
        "user_name": "Carol",
        "type": "",
        "status": 0,
        "user_data": "",
        "audios": [],
        "videos": [],
        "partial": True,
    }
    assert listed.state.rooms["r1"].details_pending
    # The same list again: nothing to say.
    same = diff(
        listed.state,
        Observation(
            T2, rooms={"r1": room("r1")}, members={"r1": {"alice": "ALICE", "carol": "Carol"}}
        ),
    )
    assert same.changes == []
    detailed = diff(
        listed.state,
        Observation(
            T2,
            rooms={"r1": room("r1")},
            members={"r1": {"alice": "ALICE", "carol": "Carol"}},
            participants={"r1": {"alice": person("alice"), "carol": person("carol")}},
        ),
    )
    (change,) = detailed.changes
    assert change.name == "participant.changed"
    assert change.data["before"]["partial"] is True
    assert "partial" not in change.data["after"]
    assert not detailed.state.rooms["r1"].details_pending


def test_events_carry_the_account() -> None:
    """Every event's data names the account; the same change in two accounts has two ids."""
    observation = Observation(T0, rooms={"r1": room("r1")}, servers={"box1": 1})
    one, two = diff(PollerState(), observation, "default"), diff(PollerState(), observation, "eu")
    assert {c.data["account"] for c in one.changes} == {"default"}
    assert {c.data["account"] for c in two.changes} == {"eu"}
    ids = {change_id(c.name, c.subject, c.data, c.opening) for c in one.changes + two.changes}
    assert len(ids) == 4


def test_rejoining_gets_a_new_id() -> None:
    """Bob leaves and comes back unchanged: his two joins have different ids."""
    everyone = {"alice": person("alice"), "bob": person("bob")}
    first = diff(
        PollerState(rooms_seen=True),
        Observation(T0, rooms={"r1": room("r1")}, participants={"r1": everyone}),
    )
    left = diff(
        first.state,
        Observation(T1, rooms={"r1": room("r1")}, participants={"r1": {"alice": person("alice")}}),
    )
    back = diff(
        left.state, Observation(T0, rooms={"r1": room("r1")}, participants={"r1": everyone})
    )
    joins = [c for c in first.changes + back.changes if c.subject.endswith("/bob")]
    assert [c.name for c in joins] == ["participant.joined", "participant.joined"]
    assert joins[0].data["after"] == joins[1].data["after"]
    ids = {change_id(c.name, c.subject, c.data) for c in joins}
    assert len(ids) == 2


def test_the_same_input_gives_the_same_changes_and_ids() -> None:
    """Diffing is deterministic: a second replica from the same snapshot derives the same ids."""
    observation = Observation(
        T1,
        rooms={"r1": room("r1"), "r9": room("r9")},
        participants={"r1": {"alice": person("alice", audio="init")}, "r9": {"z": person("z")}},
        statistics={"r1": counters(user_cnt=3)},
        statistics_window=(5, 105),
        servers={"box1": 3, "box2": 1},
    )
    one, two = diff(started(), observation), diff(started(), observation)
    ids = [change_id(c.name, c.subject, c.data) for c in one.changes]
    assert ids == [change_id(c.name, c.subject, c.data) for c in two.changes]
    assert len(set(ids)) == len(ids)


def test_statistics_name_the_changed_counters() -> None:
    """A counter moves: room.statistics.changed lists it, with all counters before and after."""
    result = diff(
        started(),
        Observation(
            T1,
            rooms={"r1": room("r1")},
            statistics={"r1": counters(user_cnt=5, web_cnt=3)},
            statistics_window=(10, 110),
        ),
    )
    (change,) = result.changes
    assert change.name == "room.statistics.changed"
    assert change.data["changed"] == ["user_cnt", "web_cnt"]
    assert change.data["before"]["user_cnt"] == 2
    assert change.data["after"]["user_cnt"] == 5
    assert change.data["window"] == {"start_time": 10, "end_time": 110}
    assert change.data["initial"] is False


def test_first_statistics_of_a_room_have_no_before() -> None:
    """The first read of a room's statistics: before null, every counter named."""
    first = diff(PollerState(rooms_seen=True), Observation(T0, rooms={"r1": room("r1")}))
    stats = diff(
        first.state,
        Observation(
            T1, rooms={"r1": room("r1")}, statistics={"r1": counters()}, statistics_window=(0, 1)
        ),
    )
    (change,) = stats.changes
    assert change.data["before"] is None
    assert change.data["changed"] == list(COUNTERS)


def test_statistics_of_a_closed_room_are_ignored() -> None:
    """Statistics read for a room that is not open (per the room list) are not compared."""
    result = diff(
        PollerState(rooms_seen=True), Observation(T0, rooms={}, statistics={"r1": counters()})
    )
    assert result.changes == []


def test_media_server_counts_change_appear_and_go() -> None:
    """Count changes, a new server (before null) and a server gone offline (after null)."""
    result = diff(started(), Observation(T1, servers={"box1": 5, "box2": 0}))
    assert [(c.key, c.data["before"], c.data["after"]) for c in result.changes] == [
        ("box1", {"user_count": 2}, {"user_count": 5}),
        ("box2", None, {"user_count": 0}),
    ]
    assert all(c.data["initial"] is False for c in result.changes)
    gone = diff(result.state, Observation(T2, servers={"box2": 0}))
    assert [(c.key, c.data["after"]) for c in gone.changes] == [("box1", None)]
    assert diff(gone.state, Observation(T2, servers={"box2": 0})).changes == []


def test_a_room_moving_server_is_remembered_without_an_event() -> None:
    """server_id changes are stored (dirty) but have no event type of their own."""
    result = diff(started(), Observation(T1, rooms={"r1": room("r1", "box2")}))
    assert result.changes == []
    assert result.dirty_rooms == {"r1"}
    room_state = result.state.rooms["r1"].room
    assert room_state is not None
    assert room_state.server_id == "box2"


def test_the_input_state_is_not_modified() -> None:
    """diff is pure: the old snapshot stays as it was."""
    state = started()
    before: dict[str, Any] = {r: s.to_json() for r, s in state.rooms.items()}
    diff(state, Observation(T1, rooms={}, servers={}))
    assert {r: s.to_json() for r, s in state.rooms.items()} == before
