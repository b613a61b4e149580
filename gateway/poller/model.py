"""The poller's snapshot: what it last saw of each room and media server.

Entities are frozen dataclasses, built from the vendor's answers by tolerant parsers (the
reference types half its numbers as strings), compared with ``==`` by the diff and turned
into JSON for events and for the durable state. Every room and media server carries a
*sequence*: the number of change events emitted for it so far (for a room: since it opened;
``room.opened`` is 1). A room also carries its *opening*: when the poller saw it open. The
event ids (`gateway.messages.changes.change_id`) derive from the account, the opening and the
sequence, so they never repeat for two different changes, also when a room opens again after
its record was deleted.

A closed room keeps its record only until its final statistics are out (``closed_at`` set):
then the record is deleted, so the snapshot holds the open rooms and the rooms closing now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COUNTERS",
    "Counters",
    "Participant",
    "PollerState",
    "Room",
    "RoomState",
    "ServerState",
    "Stream",
    "counters_from_vendor",
    "participants_from_vendor",
    "rooms_from_vendor",
    "servers_from_vendor",
]

# The counters of /room/get_statistic, in the reference's order.
COUNTERS = (
    "meeting_total",
    "ios_cnt",
    "pc_cnt",
    "user_cnt",
    "other_cnt",
    "android_cnt",
    "time_total",
    "box_cnt",
    "web_cnt",
)

Counters = Mapping[str, int]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _str(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Stream:
    """One audio or video device of a participant and its state (``init`` / ``published``)."""

    id: str
    name: str = ""
    status: str = ""
    description: str = ""
    level: int | None = None  # video only
    ctype: str | None = None  # video only

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Stream:
        """From the vendor's stream entry (or our own JSON)."""
        return cls(
            id=_str(raw.get("id")),
            name=_str(raw.get("name")),
            status=_str(raw.get("status")),
            description=_str(raw.get("description")),
            level=_int(raw["level"]) if raw.get("level") is not None else None,
            ctype=_str(raw["ctype"]) if raw.get("ctype") is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; the video-only fields only when set."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "description": self.description,
        }
        if self.level is not None:
            out["level"] = self.level
        if self.ctype is not None:
            out["ctype"] = self.ctype
        return out


def _streams(raw: Any) -> tuple[Stream, ...]:
    if not isinstance(raw, list):
        return ()
    # Sorted by id, so that the vendor listing them in another order is no change.
    return tuple(sorted((Stream.from_json(s) for s in raw if isinstance(s, dict)), key=_by_id))


def _by_id(stream: Stream) -> str:
    return stream.id


@dataclass(frozen=True, slots=True)
class Participant:
    """A user in a room, as ``/room/participate/list`` reports it."""

    user_id: str
    user_name: str = ""
    type: str = ""  # client type: web / miniprogram / android / ios / pc
    status: int = 0
    user_data: str = ""
    videos: tuple[Stream, ...] = ()
    audios: tuple[Stream, ...] = ()
    # Known from the room list only (id and name): the details are read later, and then
    # reported as a participant.changed.
    partial: bool = False

    # The fields whose change is a participant.changed event, in the order reported.
    FIELDS = ("user_name", "type", "status", "user_data", "audios", "videos")

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Participant:
        """From an entry of ``participates`` (or our own JSON)."""
        return cls(
            user_id=_str(raw.get("user_id")),
            user_name=_str(raw.get("user_name")),
            type=_str(raw.get("type")),
            status=_int(raw.get("status")),
            user_data=_str(raw.get("user_data")),
            videos=_streams(raw.get("videos")),
            audios=_streams(raw.get("audios")),
            partial=bool(raw.get("partial")),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; ``partial`` only when set."""
        out: dict[str, Any] = {
            "user_id": self.user_id,
            "user_name": self.user_name,
            "type": self.type,
            "status": self.status,
            "user_data": self.user_data,
            "audios": [s.to_json() for s in self.audios],
            "videos": [s.to_json() for s in self.videos],
        }
        if self.partial:
            out["partial"] = True
        return out

    def changed_fields(self, other: Participant) -> list[str]:
        """Names of the fields that differ from ``other``."""
        return [name for name in self.FIELDS if getattr(self, name) != getattr(other, name)]


@dataclass(frozen=True, slots=True)
class Room:
    """An open room, as ``/room/list`` reports it (its users are read separately)."""

    room_id: str
    server_id: str = ""
    create_time: int = 0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Room:
        """From an entry of ``rooms`` (or our own JSON)."""
        return cls(
            room_id=_str(raw.get("room_id")),
            server_id=_str(raw.get("server_id")),
            create_time=_int(raw.get("create_time")),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "room_id": self.room_id,
            "server_id": self.server_id,
            "create_time": self.create_time,
        }


@dataclass(frozen=True, slots=True)
class RoomState:
    """What the poller last saw of one room.

    ``room`` is None once the room closed: the record then waits for the room's final
    statistics (``closed_at``, Unix seconds, says since when) and is deleted after them.
    ``participants`` / ``statistics`` are None until first read since it opened.
    ``initial`` marks a room found open by the first room list after a fresh start: its first
    participants are then reported as ``initial`` too. ``opened_at`` is when the poller saw the
    room open (its *opening*, part of every event id). ``details_pending``: some participants
    are known from the room list only (id and name), their details not yet read.
    """

    seq: int = 0
    room: Room | None = None
    initial: bool = False
    participants: Mapping[str, Participant] | None = None
    statistics: Counters | None = None
    opened_at: str = ""
    closed_at: float | None = None
    details_pending: bool = False

    def to_json(self) -> dict[str, Any]:
        """The durable record."""
        return {
            "seq": self.seq,
            "room": self.room.to_json() if self.room else None,
            "initial": self.initial,
            "participants": None
            if self.participants is None
            else [p.to_json() for p in self.participants.values()],
            "statistics": None if self.statistics is None else dict(self.statistics),
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "details_pending": self.details_pending,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RoomState:
        """From the durable record."""
        participants = raw.get("participants")
        statistics = raw.get("statistics")
        return cls(
            seq=_int(raw.get("seq")),
            room=Room.from_json(raw["room"]) if raw.get("room") else None,
            initial=bool(raw.get("initial")),
            participants=None
            if participants is None
            else {p["user_id"]: Participant.from_json(p) for p in participants},
            statistics=None
            if statistics is None
            else {name: _int(value) for name, value in statistics.items()},
            opened_at=_str(raw.get("opened_at")),
            closed_at=None if raw.get("closed_at") is None else float(raw["closed_at"]),
            details_pending=bool(raw.get("details_pending")),
        )


@dataclass(frozen=True, slots=True)
class ServerState:
    """A media server's last reported user count (None: not reported, e.g. offline)."""

    seq: int = 0
    user_count: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The durable record."""
        return {"seq": self.seq, "user_count": self.user_count}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ServerState:
        """From the durable record."""
        count = raw.get("user_count")
        return cls(seq=_int(raw.get("seq")), user_count=None if count is None else _int(count))


@dataclass(frozen=True, slots=True)
class PollerState:
    """The whole snapshot. ``rooms_seen`` / ``servers_seen``: a room list / a media-server
    count has been read since the state began; before that, what is found is ``initial``."""

    rooms: Mapping[str, RoomState] = field(default_factory=dict)
    servers: Mapping[str, ServerState] = field(default_factory=dict)
    rooms_seen: bool = False
    servers_seen: bool = False

    def open_rooms(self) -> dict[str, RoomState]:
        """The rooms the poller believes open."""
        return {room_id: r for room_id, r in self.rooms.items() if r.room is not None}

    def closing_rooms(self) -> dict[str, RoomState]:
        """The closed rooms whose final statistics are not out yet."""
        return {room_id: r for room_id, r in self.rooms.items() if r.closed_at is not None}


# -- parsing vendor answers -------------------------------------------------------------


def rooms_from_vendor(rooms: Any) -> dict[str, tuple[Room, dict[str, str]]]:
    """``/room/list`` ``rooms`` -> room id -> (room, user id -> user name of the users it
    lists)."""
    out: dict[str, tuple[Room, dict[str, str]]] = {}
    for raw in rooms if isinstance(rooms, list) else ():
        if not isinstance(raw, dict) or not raw.get("room_id"):
            continue
        users = raw.get("users")
        members = {
            _str(u.get("user_id")): _str(u.get("user_name"))
            for u in (users if isinstance(users, list) else ())
            if isinstance(u, dict) and u.get("user_id") is not None
        }
        room = Room.from_json(raw)
        out[room.room_id] = (room, members)
    return out


def participants_from_vendor(participates: Any) -> dict[str, Participant]:
    """``/room/participate/list`` ``participates`` -> user id -> participant."""
    out: dict[str, Participant] = {}
    for raw in participates if isinstance(participates, list) else ():
        if isinstance(raw, dict) and raw.get("user_id") is not None:
            participant = Participant.from_json(raw)
            out[participant.user_id] = participant
    return out


def counters_from_vendor(answer: Mapping[str, Any]) -> dict[str, int]:
    """``/room/get_statistic`` -> every counter (a missing one counts 0)."""
    return {name: _int(answer.get(name)) for name in COUNTERS}


def servers_from_vendor(entries: Any) -> dict[str, int]:
    """``/media_server/user_count`` ``server_user_count`` -> server id -> users."""
    out: dict[str, int] = {}
    for raw in entries if isinstance(entries, list) else ():
        if isinstance(raw, dict) and raw.get("server_id") is not None:
            out[_str(raw["server_id"])] = _int(raw.get("user_count"))
    return out
