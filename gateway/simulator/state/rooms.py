"""Rooms and their participants.

A room is *created* by ``/room/create`` and is *open* (a meeting in progress, listed by
``/room/list``) from the moment it is opened by the scenario API or someone joins, until
``/room/close``. Participants carry the streams ``/room/participate/list`` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .ids import IdFactory
from .statistics import StatisticsStore, platform_counter

__all__ = ["NO_SUCH_ROOM", "Participant", "Room", "RoomStore", "Stream"]

NO_SUCH_ROOM = "no such room_id"


@dataclass(slots=True)
class Stream:
    """One published (or initialised) audio or video device of a participant."""

    id: str
    name: str
    status: str = "published"  # "init" / "published" per the reference's enum
    description: str = ""
    level: int = 0  # video only
    ctype: str = "unknown"  # video only

    def video_answer(self) -> dict[str, Any]:
        """The shape of an entry of ``videos`` in ``/room/participate/list``."""
        return {
            "level": self.level,
            "status": self.status,
            "id": self.id,
            "type": "video",
            "ctype": self.ctype,
            "name": self.name,
            "description": self.description,
        }

    def audio_answer(self) -> dict[str, Any]:
        """The shape of an entry of ``audios`` in ``/room/participate/list``."""
        return {
            "description": self.description,
            "type": "Audio",
            "status": self.status,
            "name": self.name,
            "id": self.id,
        }


@dataclass(slots=True)
class Participant:
    """A user in a room (a person, or a device answered through ``/device/call``)."""

    user_id: str
    user_name: str
    device_type: str = "web"  # web / miniprogram / android / ios / pc
    status: int = 1
    videos: list[Stream] = field(default_factory=list)
    audios: list[Stream] = field(default_factory=list)
    user_data: str = ""
    node_id: int = 0
    joined_at: float = 0.0
    call_id: str | None = None  # set for devices invited by /device/call

    def answer(self) -> dict[str, Any]:
        """The shape of an entry of ``participates`` in ``/room/participate/list``."""
        answer: dict[str, Any] = {
            "user_name": self.user_name,
            "user_id": self.user_id,
            "status": self.status,
            "videos": [v.video_answer() for v in self.videos],
            "type": self.device_type,
            "audios": [a.audio_answer() for a in self.audios],
        }
        if self.user_data:
            answer["user_data"] = self.user_data
        return answer


@dataclass(slots=True)
class Room:
    """A room's settings, its open/closed state and its participants."""

    room_id: str
    topic: str
    created_at: float
    server_id: str
    owner_id: str = ""
    host_id: str = ""
    password: str = ""
    host_password: str = ""
    enable_auto_cloud_recording: bool = False
    enable_auto_avc: bool = False
    resolution: str = "1280*720"
    attendee_max: str = ""
    close_room_with_owner_leave: bool = False
    locked: bool = False
    is_open: bool = False
    opened_at: float | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    next_node_id: int = 1

    def read_answer(self) -> dict[str, Any]:
        """The ``data`` of ``/room/read``."""
        return {
            "enable_auto_avc": self.enable_auto_avc,
            "user_id": self.owner_id,
            "enable_auto_cloud_recording": self.enable_auto_cloud_recording,
            "topic": self.topic,
            "host_id": self.host_id,
        }

    def list_answer(self) -> dict[str, Any]:
        """An entry of ``rooms`` in ``/room/list``."""
        return {
            "users": [
                {"user_name": p.user_name, "node_id": p.node_id, "user_id": p.user_id}
                for p in self.participants.values()
            ],
            "room_id": self.room_id,
            "server_id": self.server_id,
            "create_time": int(self.created_at),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything but the passwords, for the scenario API's state dump."""
        return {
            "room_id": self.room_id,
            "topic": self.topic,
            "is_open": self.is_open,
            "locked": self.locked,
            "server_id": self.server_id,
            "create_time": int(self.created_at),
            "opened_at": self.opened_at,
            "user_id": self.owner_id,
            "host_id": self.host_id,
            "has_password": bool(self.password),
            "enable_auto_cloud_recording": self.enable_auto_cloud_recording,
            "enable_auto_avc": self.enable_auto_avc,
            "resolution": self.resolution,
            "attendee_max": self.attendee_max,
            "close_room_with_owner_leave": self.close_room_with_owner_leave,
            "participants": [
                p.answer() | {"node_id": p.node_id} for p in self.participants.values()
            ],
        }


class RoomStore:
    """Rooms by id; opening, joining and closing also feed the usage statistics."""

    def __init__(
        self,
        ids: IdFactory,
        clock: Callable[[], float],
        statistics: StatisticsStore,
        default_server_id: str,
    ) -> None:
        self._ids = ids
        self._clock = clock
        self._statistics = statistics
        self.default_server_id = default_server_id
        self._rooms: dict[str, Room] = {}

    def __iter__(self) -> Iterator[Room]:
        return iter(self._rooms.values())

    def find(self, room_id: str) -> Room | None:
        """The room, or None."""
        return self._rooms.get(room_id)

    def get(self, room_id: str, msg: str = NO_SUCH_ROOM) -> Room:
        """The room, or 40004 with ``msg`` (the reference prints several wordings)."""
        room = self._rooms.get(room_id)
        if room is None:
            raise VendorError(40004, msg)
        return room

    def create(self, room_id: str | None, topic: str, **settings: Any) -> Room:
        """A new closed room; 40005 when ``room_id`` is taken. Without an id one is made up."""
        if room_id is None:
            room_id = self._ids.digits(11)
            while room_id in self._rooms:
                room_id = self._ids.digits(11)
        elif room_id in self._rooms:
            raise VendorError(40005, "room_id exists")
        room = Room(
            room_id=room_id,
            topic=topic,
            created_at=self._clock(),
            server_id=self.default_server_id,
            **settings,
        )
        self._rooms[room_id] = room
        return room

    def delete(self, room_id: str) -> Room:
        """Remove the room for good; 40004 when unknown."""
        room = self.get(room_id)
        if room.is_open:
            self.close(room)
        del self._rooms[room_id]
        return room

    def open(self, room: Room, server_id: str | None = None) -> None:
        """Start the meeting (no-op when open); counts one meeting."""
        if server_id:
            room.server_id = server_id
        if room.is_open:
            return
        room.is_open = True
        room.opened_at = self._clock()
        self._statistics.record(room.room_id, meeting_total=1)

    def close(self, room: Room) -> list[Participant]:
        """End the meeting: everyone leaves; adds the meeting's duration to ``time_total``."""
        left = list(room.participants.values())
        room.participants.clear()
        if room.is_open:
            opened_at = room.opened_at if room.opened_at is not None else self._clock()
            self._statistics.record(room.room_id, time_total=int(self._clock() - opened_at))
        room.is_open = False
        room.opened_at = None
        return left

    def join(self, room: Room, participant: Participant) -> Participant:
        """Add ``participant`` (opening the room); 40031 when the user is already in it."""
        if participant.user_id in room.participants:
            raise VendorError(40031, "user is in room")
        self.open(room)
        participant.node_id = room.next_node_id
        room.next_node_id += 1
        participant.joined_at = self._clock()
        room.participants[participant.user_id] = participant
        self._statistics.record(
            room.room_id, user_cnt=1, **{platform_counter(participant.device_type): 1}
        )
        return participant

    def participant(self, room: Room, user_id: str) -> Participant:
        """The participant, or 40008 when the user is not in the room."""
        participant = room.participants.get(user_id)
        if participant is None:
            raise VendorError(40008, "user not in room")
        return participant

    def leave(self, room: Room, user_id: str) -> Participant:
        """Remove a participant; 40008 when the user is not in the room."""
        participant = self.participant(room, user_id)
        del room.participants[user_id]
        return participant

    def open_rooms(self) -> list[Room]:
        """The meetings in progress."""
        return [room for room in self._rooms.values() if room.is_open]
