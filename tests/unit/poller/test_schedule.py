"""Cadence with jitter, and round-robin over large estates."""

from __future__ import annotations

import random

from gateway.poller.schedule import Cadence, Kind, RoundRobin, Schedule


def test_jitter_stays_within_its_fraction() -> None:
    """next_after lies in interval * (1 ± jitter) after the end of the cycle."""
    rng = random.Random(1)
    cadence = Cadence(10.0, 0.2)
    values = [cadence.next_after(100.0, rng) - 100.0 for _ in range(1000)]
    assert min(values) >= 8.0
    assert max(values) <= 12.0
    assert max(values) - min(values) > 3.0  # it really varies


def test_everything_is_due_first_then_each_kind_on_its_cadence() -> None:
    """All kinds at the start; afterwards only what is due, counted from the cycle's end."""
    schedule = Schedule(
        {
            Kind.PARTICIPANTS: Cadence(5.0, 0.0),
            Kind.STATISTICS: Cadence(60.0, 0.0),
            Kind.MEDIA_SERVERS: Cadence(15.0, 0.0),
        },
        random.Random(0),
    )
    assert schedule.due(0.0) == set(Kind)
    schedule.done(set(Kind), ended=2.0)  # a slow first cycle: next times count from its end
    assert schedule.next_due() == 7.0
    assert schedule.due(6.9) == set()
    assert schedule.due(7.0) == {Kind.PARTICIPANTS}
    schedule.done({Kind.PARTICIPANTS}, ended=7.5)
    assert schedule.due(12.4) == set()
    assert schedule.due(17.0) == {Kind.PARTICIPANTS, Kind.MEDIA_SERVERS}
    assert schedule.due(62.0) == set(Kind)


def test_a_cycle_shorter_than_the_interval_keeps_the_cadence() -> None:
    """Due an interval after the cycle started; a cycle longer than that: when it ended."""
    schedule = Schedule({Kind.PARTICIPANTS: Cadence(5.0, 0.0)}, random.Random(0))
    schedule.done({Kind.PARTICIPANTS}, ended=3.0, started=0.0)
    assert schedule.next_due() == 5.0
    schedule.done({Kind.PARTICIPANTS}, ended=12.0, started=5.0)
    assert schedule.next_due() == 12.0


def test_round_robin_covers_every_room_in_turn() -> None:
    """Ten rooms, four per cycle: every room is read within three cycles, in id order."""
    rooms = [f"r{i:02d}" for i in range(10)]
    rr = RoundRobin(4)
    assert rr.pick(rooms) == ["r00", "r01", "r02", "r03"]
    assert rr.pick(rooms) == ["r04", "r05", "r06", "r07"]
    assert rr.pick(rooms) == ["r08", "r09", "r00", "r01"]


def test_urgent_rooms_go_first_and_count_against_the_limit() -> None:
    """Rooms that just opened or whose users changed are read first."""
    rooms = [f"r{i:02d}" for i in range(10)]
    rr = RoundRobin(3)
    assert rr.pick(rooms, ["r07", "nope"]) == ["r07", "r00", "r01"]
    assert rr.pick(rooms, ["r09", "r08", "r05", "r06"]) == ["r05", "r06", "r08"]
    assert rr.pick(rooms) == ["r02", "r03", "r04"]


def test_round_robin_survives_rooms_going_away() -> None:
    """The cursor is a room id: when that room closes, the next one in order follows."""
    rr = RoundRobin(2)
    assert rr.pick(["a", "b", "c", "d", "e"]) == ["a", "b"]
    assert rr.pick(["a", "c", "d", "e"]) == ["c", "d"]
    assert rr.pick(["a", "e"]) == ["a", "e"]


def test_a_small_estate_is_read_whole_every_cycle() -> None:
    """Fewer rooms than the limit: all of them, urgent first."""
    rr = RoundRobin(500)
    assert rr.pick(["a", "b", "c"], ["c"]) == ["c", "a", "b"]
