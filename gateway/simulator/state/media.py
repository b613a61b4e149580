"""Media players that play files or streams into a room (``/media/*``)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .ids import IdFactory

__all__ = ["MediaPlayer", "MediaStore", "PlayFile", "PlayerStatus"]

_AUDIO_ONLY = (".mp3", ".wav", ".aac", ".m4a")
_LIVE_SCHEMES = ("rtmp://", "rtsp://")


class PlayerStatus:
    """``status`` of ``/media/get_media_info`` (undocumented; this simulator's reading)."""

    CREATED = 0
    PLAYING = 1
    PAUSED = 2


@dataclass(slots=True)
class PlayFile:
    """What the player learnt about a url it played."""

    url: str
    created: float
    updated: float
    play_count: int = 0

    @property
    def has_video(self) -> int:
        """0 for audio files, else 1."""
        return 0 if self.url.lower().endswith(_AUDIO_ONLY) else 1

    @property
    def duration(self) -> int:
        """Milliseconds; 0 for live streams; otherwise stable per url."""
        if self.url.startswith(_LIVE_SCHEMES):
            return 0
        return 10_000 + zlib.crc32(self.url.encode()) % 290_000

    def probe(self) -> dict[str, Any]:
        """The ``data`` of play / replay / switch (width and height are strings there)."""
        video = self.has_video
        return {
            "width": "960" if video else "0",
            "duration": self.duration,
            "has_video": video,
            "height": "540" if video else "0",
            "has_audio": 1,
        }

    def answer(self) -> dict[str, Any]:
        """An entry of ``play_files`` in get_media_info."""
        probe = self.probe()
        return {
            "play_count": self.play_count,
            "duration": probe["duration"],
            "has_audio": probe["has_audio"],
            "updated": int(self.updated),
            "width": probe["width"],
            "url": self.url,
            "has_video": probe["has_video"],
            "height": probe["height"],
            "created": int(self.created),
        }


@dataclass(slots=True)
class MediaPlayer:
    """A player in a room, created by ``/media/create``."""

    play_id: str
    room_id: str
    name: str
    user_id: str
    created: float
    options: dict[str, Any] = field(default_factory=dict)
    status: int = PlayerStatus.CREATED
    current_url: str = ""
    files: dict[str, PlayFile] = field(default_factory=dict)

    def answer(self, url: str | None = None) -> dict[str, Any]:
        """An entry of ``data`` in get_media_info (play_files limited to ``url`` if given)."""
        files = [f for f in self.files.values() if not url or f.url == url]
        return {
            "created": int(self.created),
            "room_id": self.room_id,
            "play_id": self.play_id,
            "user_id": self.user_id,
            "name": self.name,
            "play_files": [f.answer() for f in files],
            "status": self.status,
        }


class MediaStore:
    """Players by play id; 40080 for a second player of the same name or user in a room,
    40081 for a play id the room does not have."""

    def __init__(self, ids: IdFactory, clock: Callable[[], float]) -> None:
        self._ids = ids
        self._clock = clock
        self._players: dict[str, MediaPlayer] = {}

    def create(self, room_id: str, name: str, user_id: str | None, **options: Any) -> MediaPlayer:
        """A new idle player."""
        for player in self._players.values():
            if player.room_id == room_id and (player.name == name or player.user_id == user_id):
                raise VendorError(40080, "media has already exist")
        player = MediaPlayer(
            play_id=self._ids.uuid(),
            room_id=room_id,
            name=name,
            user_id=user_id or self._ids.uuid(),
            created=self._clock(),
            options=options,
        )
        self._players[player.play_id] = player
        return player

    def get(self, room_id: str, play_id: str) -> MediaPlayer:
        """The player; 40081 when the room has no such play id."""
        player = self._players.get(play_id)
        if player is None or player.room_id != room_id:
            raise VendorError(40081, "room doesn't have such play_id media")
        return player

    def play(self, room_id: str, play_id: str, url: str) -> PlayFile:
        """Play ``url`` from the start (play, replay and switch all come here)."""
        player = self.get(room_id, play_id)
        now = self._clock()
        file = player.files.get(url)
        if file is None:
            file = player.files[url] = PlayFile(url=url, created=now, updated=now)
        file.play_count += 1
        file.updated = now
        player.current_url = url
        player.status = PlayerStatus.PLAYING
        return file

    def pause(self, room_id: str, play_id: str) -> None:
        """Pause (again is harmless); 40084 when nothing was ever played."""
        player = self._playing(room_id, play_id)
        player.status = PlayerStatus.PAUSED

    def resume(self, room_id: str, play_id: str) -> None:
        """Resume (again is harmless); 40084 when nothing was ever played."""
        player = self._playing(room_id, play_id)
        player.status = PlayerStatus.PLAYING

    def _playing(self, room_id: str, play_id: str) -> MediaPlayer:
        player = self.get(room_id, play_id)
        if not player.current_url:
            raise VendorError(40084, "have no media info")
        return player

    def stop(self, room_id: str, play_id: str) -> None:
        """Close the player; its play id is gone afterwards."""
        self.get(room_id, play_id)
        del self._players[play_id]

    def info(self, room_id: str, play_id: str, url: str) -> MediaPlayer:
        """The player, for get_media_info; 40084 when it never played ``url``."""
        player = self.get(room_id, play_id)
        if url and url not in player.files:
            raise VendorError(40084, "have no media info")
        return player

    def drop_room(self, room_id: str) -> None:
        """Close every player of a room that closed."""
        for play_id in [p.play_id for p in self._players.values() if p.room_id == room_id]:
            del self._players[play_id]

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [p.answer() for p in self._players.values()]
