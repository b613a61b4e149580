"""Pure snapshot diffing: last state + one cycle's observation -> new state + change events.

No I/O, no clock, no randomness: the same state and observation always give the same
changes, in the same order, with the same sequences (and so the same event ids). The order
per room is: ``room.closed`` (after a ``participant.left`` per remaining participant) and the
final ``room.statistics.changed``, or ``room.opened``; then the participants (by user id),
then the statistics; media servers by id.

Membership comes from the room list: a user it lists who was not there is
``participant.joined`` (with only id and name, ``partial``, unless the room's participants
were read in the same cycle), one it no longer lists ``participant.left``. A room whose
participants were read is compared in full, details included.

A closed room's record stays until its final statistics were read (``final_statistics``) or
given up (``abandoned``): then it is deleted (``removed_rooms``, tombstones in the state topic).

What was not read is not compared: a room whose participants could not be read this cycle
keeps its last participants, so a failing read never turns into ``participant.left`` events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.messages.changes import ChangeName
from gateway.poller.model import (
    COUNTERS,
    Counters,
    Participant,
    PollerState,
    Room,
    RoomState,
    ServerState,
)

__all__ = ["Change", "Diff", "Observation", "diff"]

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Observation:
    """What one cycle read. ``None`` / absent means "not read" (not due, or the read failed),
    never "empty"."""

    observed_at: str
    # The same instant in Unix seconds (a closing room's ``closed_at``).
    observed_ts: float = 0.0
    # The open rooms among the watched ones, from /room/list.
    rooms: Mapping[str, Room] | None = None
    # Per open room, from the same /room/list: user id -> user name.
    members: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Per room whose /room/participate/list was read: user id -> participant.
    participants: Mapping[str, Mapping[str, Participant]] = field(default_factory=dict)
    # Per room whose /room/get_statistic was read, over ``statistics_window``.
    statistics: Mapping[str, Counters] = field(default_factory=dict)
    statistics_window: tuple[int, int] | None = None
    # Per closing room whose statistics were read after it closed, over the same window.
    final_statistics: Mapping[str, Counters] = field(default_factory=dict)
    # Closing rooms whose final statistics are given up (unreadable for too long).
    abandoned: frozenset[str] = frozenset()
    # /media_server/user_count: server id -> users.
    servers: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One change event to publish: its name, Kafka key, subject, ``data`` and the opening of
    its room ("" for media servers), which the event id includes."""

    name: ChangeName
    key: str
    subject: str
    data: dict[str, Any]
    opening: str = ""


@dataclass(slots=True)
class Diff:
    """The result of :func:`diff`: the new state, the changes in publishing order, and which
    durable records changed (room ids, server ids, whether the meta record did) or are to be
    deleted (``removed_rooms``)."""

    state: PollerState
    changes: list[Change]
    dirty_rooms: set[str]
    dirty_servers: set[str]
    meta_dirty: bool
    removed_rooms: set[str] = field(default_factory=set)


def _room_subject(room_id: str) -> str:
    return f"rooms/{room_id}"


class _Builder:
    """Collects changes; one instance per call of :func:`diff`."""

    def __init__(self, observed_at: str, account: str) -> None:
        self.observed_at = observed_at
        self.account = account
        self.changes: list[Change] = []

    def add(
        self,
        name: ChangeName,
        key: str,
        subject: str,
        ids: dict[str, Any],
        *,
        before: Any,
        after: Any,
        seq: int,
        opening: str = "",
        initial: bool = False,
        **extra: Any,
    ) -> None:
        data = {
            "account": self.account,
            **ids,
            **extra,
            "before": before,
            "after": after,
            "observed_at": self.observed_at,
            "initial": initial,
            "sequence": seq,
        }
        self.changes.append(Change(name, key, subject, data, opening))


class _Rooms:
    """The rooms being changed by one diff, with the records to write and to delete."""

    def __init__(self, rooms: Mapping[str, RoomState]) -> None:
        self.states = dict(rooms)
        self.dirty: set[str] = set()
        self.removed: set[str] = set()

    def put(self, room_id: str, state: RoomState) -> None:
        self.states[room_id] = state
        self.dirty.add(room_id)
        self.removed.discard(room_id)

    def remove(self, room_id: str) -> None:
        del self.states[room_id]
        self.dirty.discard(room_id)
        self.removed.add(room_id)


def _close_room(
    out: _Builder, room_id: str, state: RoomState, room: Room, closed_at: float
) -> RoomState:
    seq = state.seq
    for user_id, participant in sorted((state.participants or {}).items()):
        seq += 1
        out.add(
            "participant.left",
            room_id,
            f"rooms/{room_id}/participants/{user_id}",
            {"room_id": room_id, "user_id": user_id},
            reason="room_closed",
            before=participant.to_json(),
            after=None,
            seq=seq,
            opening=state.opened_at,
        )
    seq += 1
    out.add(
        "room.closed",
        room_id,
        _room_subject(room_id),
        {"room_id": room_id},
        before=room.to_json(),
        after=None,
        seq=seq,
        opening=state.opened_at,
    )
    # Closed: the record waits for the final statistics (and keeps the last ones read).
    return RoomState(
        seq=seq, statistics=state.statistics, opened_at=state.opened_at, closed_at=closed_at
    )


def _statistics_event(
    out: _Builder,
    room_id: str,
    state: RoomState,
    counters: Counters,
    window: tuple[int, int] | None,
    *,
    final: bool,
) -> int:
    """Emit ``room.statistics.changed``; returns its sequence."""
    before = state.statistics
    changed = [n for n in COUNTERS if before is None or before.get(n, 0) != counters.get(n, 0)]
    seq = state.seq + 1
    start, end = window or (0, 0)
    out.add(
        "room.statistics.changed",
        room_id,
        _room_subject(room_id),
        {"room_id": room_id},
        changed=changed,
        window={"start_time": start, "end_time": end},
        final=final,
        before=None if before is None else {n: before.get(n, 0) for n in COUNTERS},
        after={n: counters.get(n, 0) for n in COUNTERS},
        seq=seq,
        opening=state.opened_at,
        initial=state.initial and before is None and not final,
    )
    return seq


def _finish_closed_rooms(out: _Builder, rooms: _Rooms, observation: Observation) -> None:
    """The final statistics of closed rooms, then their records' deletion."""
    for room_id in sorted(observation.final_statistics.keys() | observation.abandoned):
        state = rooms.states.get(room_id)
        if state is None or state.closed_at is None:
            continue  # not closing (reopened meanwhile, or already finished)
        counters = observation.final_statistics.get(room_id)
        if counters is not None:
            _statistics_event(
                out, room_id, state, counters, observation.statistics_window, final=True
            )
        rooms.remove(room_id)


def _diff_rooms(
    out: _Builder,
    rooms: _Rooms,
    observation: Observation,
    observed: Mapping[str, Room],
    fresh: bool,
) -> None:
    closed = {
        r: s.room for r, s in rooms.states.items() if s.room is not None and r not in observed
    }
    for room_id in sorted(closed):
        closing = _close_room(
            out, room_id, rooms.states[room_id], closed[room_id], observation.observed_ts
        )
        rooms.put(room_id, closing)
    _finish_closed_rooms(out, rooms, observation)
    for room_id in sorted(observed):
        room = observed[room_id]
        state = rooms.states.get(room_id)
        if state is None or state.room is None:
            # A new opening (a closing room that reopens loses its pending final statistics:
            # they would now count the new meeting too). Its sequence starts again.
            opening = observation.observed_at
            out.add(
                "room.opened",
                room_id,
                _room_subject(room_id),
                {"room_id": room_id},
                before=None,
                after=room.to_json(),
                seq=1,
                opening=opening,
                initial=fresh,
            )
            rooms.put(room_id, RoomState(seq=1, room=room, initial=fresh, opened_at=opening))
        elif state.room != room:
            # Moved to another media server: no event of its own, but remembered.
            rooms.put(room_id, replace(state, room=room))


def _from_members(
    state: RoomState, members: Mapping[str, str]
) -> tuple[dict[str, Participant], bool]:
    """The participants the room list implies: the known ones it still lists, and a partial
    participant (id and name) for each it newly lists; and whether any is partial."""
    known = state.participants or {}
    observed: dict[str, Participant] = {}
    pending = False
    for user_id, user_name in members.items():
        participant = known.get(user_id)
        if participant is None:
            participant = Participant(user_id, user_name=user_name, partial=True)
        pending = pending or participant.partial
        observed[user_id] = participant
    return observed, pending


def _diff_participants(
    out: _Builder,
    room_id: str,
    state: RoomState,
    observed: Mapping[str, Participant],
    *,
    details_pending: bool,
) -> RoomState:
    known = state.participants
    initial = state.initial and known is None
    before_map: Mapping[str, Participant] = known or {}
    seq = state.seq
    for user_id in sorted(before_map.keys() | observed.keys()):
        before, after = before_map.get(user_id), observed.get(user_id)
        subject = f"rooms/{room_id}/participants/{user_id}"
        ids = {"room_id": room_id, "user_id": user_id}
        if before is None and after is not None:
            seq += 1
            out.add(
                "participant.joined",
                room_id,
                subject,
                ids,
                before=None,
                after=after.to_json(),
                seq=seq,
                opening=state.opened_at,
                initial=initial,
            )
        elif after is None and before is not None:
            seq += 1
            out.add(
                "participant.left",
                room_id,
                subject,
                ids,
                reason="left",
                before=before.to_json(),
                after=None,
                seq=seq,
                opening=state.opened_at,
            )
        elif before is not None and after is not None and before != after:
            seq += 1
            out.add(
                "participant.changed",
                room_id,
                subject,
                ids,
                changed=after.changed_fields(before),
                before=before.to_json(),
                after=after.to_json(),
                seq=seq,
                opening=state.opened_at,
            )
    if known is not None and seq == state.seq and details_pending == state.details_pending:
        return state
    return replace(state, seq=seq, participants=dict(observed), details_pending=details_pending)


def _diff_statistics(
    out: _Builder,
    room_id: str,
    state: RoomState,
    counters: Counters,
    window: tuple[int, int] | None,
) -> RoomState:
    before = state.statistics
    if before is not None and dict(before) == dict(counters):
        return state
    seq = _statistics_event(out, room_id, state, counters, window, final=False)
    return replace(state, seq=seq, statistics=dict(counters))


def _diff_servers(
    out: _Builder, servers: dict[str, ServerState], observed: Mapping[str, int], fresh: bool
) -> set[str]:
    dirty: set[str] = set()
    for server_id in sorted(servers.keys() | observed.keys()):
        state = servers.get(server_id, ServerState())
        after = observed.get(server_id)
        if state.user_count == after:
            continue
        seq = state.seq + 1
        out.add(
            "media_server.user_count.changed",
            server_id,
            f"media_servers/{server_id}",
            {"server_id": server_id},
            before=None if state.user_count is None else {"user_count": state.user_count},
            after=None if after is None else {"user_count": after},
            seq=seq,
            initial=fresh and state.user_count is None,
        )
        servers[server_id] = ServerState(seq=seq, user_count=after)
        dirty.add(server_id)
    return dirty


def _open_state(rooms: _Rooms, room_id: str) -> RoomState | None:
    current = rooms.states.get(room_id)
    return current if current is not None and current.room is not None else None


def diff(state: PollerState, observation: Observation, account: str = "default") -> Diff:
    """Compare ``observation`` with ``state`` of ``account``: the new state and the change
    events."""
    out = _Builder(observation.observed_at, account)
    rooms = _Rooms(state.rooms)
    servers = dict(state.servers)
    dirty_servers: set[str] = set()
    rooms_seen, servers_seen = state.rooms_seen, state.servers_seen

    if observation.rooms is not None:
        _diff_rooms(out, rooms, observation, observation.rooms, fresh=not rooms_seen)
        rooms_seen = True
    else:
        _finish_closed_rooms(out, rooms, observation)
    for room_id in sorted(observation.participants.keys() | observation.members.keys()):
        current = _open_state(rooms, room_id)
        if current is None:
            continue  # not open as far as the room list knows: nothing to compare with
        read = observation.participants.get(room_id)
        if read is not None:
            updated = _diff_participants(out, room_id, current, read, details_pending=False)
        else:
            members = observation.members[room_id]
            known = current.participants
            if known is not None and known.keys() == members.keys():
                continue  # the same users: nothing the list can tell
            implied, pending = _from_members(current, members)
            updated = _diff_participants(out, room_id, current, implied, details_pending=pending)
        if updated is not current:
            rooms.put(room_id, updated)
    for room_id in sorted(observation.statistics):
        current = _open_state(rooms, room_id)
        if current is None:
            continue
        updated = _diff_statistics(
            out,
            room_id,
            current,
            observation.statistics[room_id],
            observation.statistics_window,
        )
        if updated is not current:
            rooms.put(room_id, updated)
    if observation.servers is not None:
        dirty_servers |= _diff_servers(out, servers, observation.servers, fresh=not servers_seen)
        servers_seen = True

    new_state = PollerState(rooms.states, servers, rooms_seen, servers_seen)
    meta_dirty = (rooms_seen, servers_seen) != (state.rooms_seen, state.servers_seen)
    return Diff(new_state, out.changes, rooms.dirty, dirty_servers, meta_dirty, rooms.removed)
