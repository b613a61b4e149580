"""Pure snapshot diffing: last state + one cycle's observation -> new state + change events.

No I/O, no clock, no randomness: the same state and observation always give the same
changes, in the same order, with the same sequences (and so the same event ids). The order
per room is: ``room.closed`` (after a ``participant.left`` per remaining participant) or
``room.opened``, then the participants (by user id), then the statistics; media servers by id.

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
    # The open rooms among the watched ones, from /room/list.
    rooms: Mapping[str, Room] | None = None
    # Per room whose /room/participate/list was read: user id -> participant.
    participants: Mapping[str, Mapping[str, Participant]] = field(default_factory=dict)
    # Per room whose /room/get_statistic was read, over ``statistics_window``.
    statistics: Mapping[str, Counters] = field(default_factory=dict)
    statistics_window: tuple[int, int] | None = None
    # /media_server/user_count: server id -> users.
    servers: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One change event to publish: its name, Kafka key, subject and ``data``."""

    name: ChangeName
    key: str
    subject: str
    data: dict[str, Any]


@dataclass(slots=True)
class Diff:
    """The result of :func:`diff`: the new state, the changes in publishing order, and which
    durable records changed (room ids, server ids, and whether the meta record did)."""

    state: PollerState
    changes: list[Change]
    dirty_rooms: set[str]
    dirty_servers: set[str]
    meta_dirty: bool


def _room_subject(room_id: str) -> str:
    return f"rooms/{room_id}"


class _Builder:
    """Collects changes; one instance per call of :func:`diff`."""

    def __init__(self, observed_at: str) -> None:
        self.observed_at = observed_at
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
        initial: bool = False,
        **extra: Any,
    ) -> None:
        data = {
            **ids,
            **extra,
            "before": before,
            "after": after,
            "observed_at": self.observed_at,
            "initial": initial,
            "sequence": seq,
        }
        self.changes.append(Change(name, key, subject, data))


def _close_room(out: _Builder, room_id: str, state: RoomState, room: Room) -> RoomState:
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
    )
    return RoomState(seq=seq)  # closed: only the sequence is kept


def _diff_rooms(
    out: _Builder, rooms: dict[str, RoomState], observed: Mapping[str, Room], fresh: bool
) -> set[str]:
    dirty: set[str] = set()
    closed = {r: s.room for r, s in rooms.items() if s.room is not None and r not in observed}
    for room_id in sorted(closed):
        rooms[room_id] = _close_room(out, room_id, rooms[room_id], closed[room_id])
        dirty.add(room_id)
    for room_id in sorted(observed):
        room = observed[room_id]
        state = rooms.get(room_id, RoomState())
        if state.room is None:
            seq = state.seq + 1
            out.add(
                "room.opened",
                room_id,
                _room_subject(room_id),
                {"room_id": room_id},
                before=None,
                after=room.to_json(),
                seq=seq,
                initial=fresh,
            )
            rooms[room_id] = RoomState(seq=seq, room=room, initial=fresh)
            dirty.add(room_id)
        elif state.room != room:
            # Moved to another media server: no event of its own, but remembered.
            rooms[room_id] = replace(state, room=room)
            dirty.add(room_id)
    return dirty


def _diff_participants(
    out: _Builder, room_id: str, state: RoomState, observed: Mapping[str, Participant]
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
            )
    if known is not None and seq == state.seq:
        return state
    return replace(state, seq=seq, participants=dict(observed))


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
        before=None if before is None else {n: before.get(n, 0) for n in COUNTERS},
        after={n: counters.get(n, 0) for n in COUNTERS},
        seq=seq,
        initial=state.initial and before is None,
    )
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


def diff(state: PollerState, observation: Observation) -> Diff:
    """Compare ``observation`` with ``state``: the new state and the change events."""
    out = _Builder(observation.observed_at)
    rooms = dict(state.rooms)
    servers = dict(state.servers)
    dirty_rooms: set[str] = set()
    dirty_servers: set[str] = set()
    rooms_seen, servers_seen = state.rooms_seen, state.servers_seen

    if observation.rooms is not None:
        dirty_rooms |= _diff_rooms(out, rooms, observation.rooms, fresh=not rooms_seen)
        rooms_seen = True
    for room_id in sorted(observation.participants):
        current = rooms.get(room_id)
        if current is None or current.room is None:
            continue  # not open as far as the room list knows: nothing to compare with
        updated = _diff_participants(out, room_id, current, observation.participants[room_id])
        if updated is not current:
            rooms[room_id] = updated
            dirty_rooms.add(room_id)
    for room_id in sorted(observation.statistics):
        current = rooms.get(room_id)
        if current is None or current.room is None:
            continue
        updated = _diff_statistics(
            out,
            room_id,
            current,
            observation.statistics[room_id],
            observation.statistics_window,
        )
        if updated is not current:
            rooms[room_id] = updated
            dirty_rooms.add(room_id)
    if observation.servers is not None:
        dirty_servers |= _diff_servers(out, servers, observation.servers, fresh=not servers_seen)
        servers_seen = True

    new_state = PollerState(rooms, servers, rooms_seen, servers_seen)
    meta_dirty = (rooms_seen, servers_seen) != (state.rooms_seen, state.servers_seen)
    return Diff(new_state, out.changes, dirty_rooms, dirty_servers, meta_dirty)
