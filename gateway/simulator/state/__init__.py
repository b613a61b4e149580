"""The in-memory state of the simulated vendor.

:class:`VendorState` owns one store per vendor area and performs the operations that span
several of them (a room that closes stops its recordings, lives, AVC, players and device
calls). Stores raise :class:`VendorError` with the documented code; the wire layer turns it
into an answer. Everything runs on one event loop, so nothing is locked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config import SimulatorSettings
from .avc import AvcStore
from .chat import ChatStore
from .devices import DeviceStore, InviteStatus
from .errors import VendorError
from .files import UrlBuilder
from .ids import IdFactory
from .licence import LicenceStore
from .live import LiveStore
from .media import MediaStore
from .media_servers import MediaServerStore
from .recordings import RecordingStore
from .rooms import Participant, Room, RoomStore, Stream
from .sip import SipStore
from .statistics import COUNTERS, StatisticsStore
from .tokens import TokenStore
from .uploads import UploadStore
from .web_records import WebRecordStore

__all__ = [
    "COUNTERS",
    "InviteStatus",
    "Participant",
    "Room",
    "Stream",
    "VendorError",
    "VendorState",
]


class VendorState:
    """Everything the simulated vendor knows; :meth:`reset` starts it afresh."""

    def __init__(
        self, settings: SimulatorSettings | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self.clock = clock
        self.ids = IdFactory(self.settings.seed)
        self._build()

    def _build(self) -> None:
        settings, clock, ids = self.settings, self.clock, self.ids
        ids.reset()
        self.urls = UrlBuilder(settings.public_url or f"http://{settings.host}:{settings.port}")
        self.statistics = StatisticsStore(clock)
        self.tokens = TokenStore(ids, clock, settings.token_ttl_s)
        self.rooms = RoomStore(ids, clock, self.statistics, settings.default_server_id)
        self.media_servers = MediaServerStore(settings.default_server_id)
        self.recordings = RecordingStore(ids, clock, self.urls)
        self.web_records = WebRecordStore(ids, clock, self.urls)
        self.lives = LiveStore(ids, clock)
        self.avc = AvcStore(ids)
        self.media = MediaStore(ids, clock)
        self.sip = SipStore(ids)
        self.devices = DeviceStore(ids, clock, self.rooms, settings.invite_answer_delay_s)
        self.uploads = UploadStore(clock)
        self.chat = ChatStore(clock)
        self.licence = LicenceStore(settings.max_users, settings.seed)

    def reset(self) -> None:
        """Forget everything (tokens included); a seeded state repeats its ids."""
        self._build()

    def advance(self) -> None:
        """Let time-driven changes happen (devices answering); cheap when nothing is due."""
        self.devices.advance()

    def now(self) -> float:
        """The simulator's clock, Unix seconds."""
        return self.clock()

    # -- operations spanning several stores ----------------------------------------------

    def open_room(
        self, room_id: str, topic: str | None = None, server_id: str | None = None
    ) -> Room:
        """Open a meeting in the room, creating the room first if needed."""
        room = self.rooms.find(room_id) or self.rooms.create(room_id, topic or room_id)
        if topic:
            room.topic = topic
        self.rooms.open(room, server_id)
        self.media_servers.register(room.server_id)
        return room

    def close_room(self, room: Room) -> None:
        """End the meeting: stop recordings (keeping the files), lives, AVC, players and
        device calls; everyone leaves."""
        self.recordings.stop_room(room)
        self.lives.stop_room(room.room_id)
        self.avc.drop(room.room_id)
        self.media.drop_room(room.room_id)
        self.devices.room_closed(room.room_id)
        self.rooms.close(room)

    def delete_room(self, room_id: str) -> None:
        """Delete a room (closing it first if open); 40004 when unknown."""
        room = self.rooms.get(room_id)
        self.close_room(room)
        self.rooms.delete(room_id)

    def add_participant(self, room: Room, participant: Participant) -> Participant:
        """A user joins (the room opens if it was not)."""
        self.rooms.join(room, participant)
        self.media_servers.register(room.server_id)
        return participant

    def remove_participant(self, room: Room, user_id: str) -> Participant:
        """A user leaves (40008 when absent); the room closes if it was created with
        ``close_room_with_owner_leave`` and its owner left."""
        participant = self.rooms.leave(room, user_id)
        self.devices.participant_left(room.room_id, user_id)
        if room.close_room_with_owner_leave and room.owner_id == user_id:
            self.close_room(room)
        return participant

    def active_users(self) -> int:
        """Participants in all open rooms (``active_usernum`` of the licence)."""
        return sum(len(room.participants) for room in self.rooms.open_rooms())

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (no token values, keys or passwords)."""
        return {
            "time": self.now(),
            "tokens": self.tokens.snapshot(),
            "rooms": [room.snapshot() for room in self.rooms],
            "recordings": self.recordings.snapshot(),
            "web_records": self.web_records.snapshot(),
            "lives": self.lives.snapshot(),
            "avc": self.avc.snapshot(),
            "media": self.media.snapshot(),
            "sip": self.sip.snapshot(),
            "device_calls": self.devices.snapshot(),
            "uploads": self.uploads.snapshot(),
            "media_servers": self.media_servers.snapshot(),
            "statistics": self.statistics.snapshot(),
            "chat": self.chat.snapshot(),
            "licence": self.licence.snapshot(),
        }
