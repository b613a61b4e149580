"""Mixed live streams (``/room/mix_live/*``): several per room, one per push URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .ids import IdFactory

__all__ = ["LiveMix", "LiveStore"]

NOT_STARTED = "room hasn't start mix_live"


@dataclass(slots=True)
class LiveMix:
    """A room's composite pushed to ``push_url``."""

    record_id: str
    room_id: str
    push_url: str
    started_at: float
    videos: list[Any] = field(default_factory=list)
    audio_mixer_users: list[Any] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """An entry of ``data`` in ``/room/mix_live/get``."""
        return {"record_id": self.record_id, "push_url": self.push_url, "rtmp_url": self.push_url}


class LiveStore:
    """Running live mixes by record id."""

    def __init__(self, ids: IdFactory, clock: Callable[[], float]) -> None:
        self._ids = ids
        self._clock = clock
        self._lives: dict[str, LiveMix] = {}

    def of_room(self, room_id: str) -> list[LiveMix]:
        """The room's running lives, oldest first."""
        return [live for live in self._lives.values() if live.room_id == room_id]

    def start(
        self, room_id: str, push_url: str, videos: list[Any], audio_mixer_users: list[Any]
    ) -> LiveMix:
        """Start pushing; 40040 when the room already pushes to ``push_url``, 40060 when
        another room does."""
        for live in self._lives.values():
            if live.push_url == push_url:
                if live.room_id == room_id:
                    raise VendorError(40040, "room already has mix_record or mix_live")
                raise VendorError(40060, "room has already start live")
        live = LiveMix(
            record_id=self._ids.hex(32),
            room_id=room_id,
            push_url=push_url,
            started_at=self._clock(),
            videos=videos,
            audio_mixer_users=audio_mixer_users,
        )
        self._lives[live.record_id] = live
        return live

    def update_layout(self, room_id: str, videos: list[Any], record_id: str | None) -> None:
        """New layout for the room's lives (or one of them); 40041 when none runs, 40061
        when ``record_id`` is not one of them."""
        lives = self.of_room(room_id)
        if not lives:
            # The reference prints this (mix_record) text for the live endpoint.
            raise VendorError(40041, "room hasn't start mix_record")
        if record_id:
            lives = [live for live in lives if live.record_id == record_id]
            if not lives:
                raise VendorError(40061, "room hasn't start live")
        for live in lives:
            live.videos = videos

    def stop(self, room_id: str | None, record_ids: list[str]) -> list[dict[str, Any]]:
        """Stop the named lives (or all of the room's); returns ``failed_record_list``.

        A single unknown record id is 40046, several that all fail 40065 (with the list), the
        room with nothing running 40041; partial failures succeed with the list.
        """
        if not record_ids:
            lives = self.of_room(room_id or "")
            if not lives:
                raise VendorError(40041, NOT_STARTED)
            for live in lives:
                del self._lives[live.record_id]
            return []
        failed: list[dict[str, Any]] = []
        for record_id in record_ids:
            found = self._lives.get(record_id)
            if found is None or (room_id and found.room_id != room_id):
                failed.append(
                    {"msg": "room not have this record", "record_id": record_id, "ret": 40046}
                )
            else:
                del self._lives[record_id]
        if len(failed) == len(record_ids):
            if len(failed) == 1:
                raise VendorError(40046, "room not have this record", record_id=record_ids[0])
            raise VendorError(40065, "close room live error", failed_record_list=failed)
        return failed

    def stop_room(self, room_id: str) -> None:
        """Drop every live of a room that is closing."""
        for live in self.of_room(room_id):
            del self._lives[live.record_id]

    def query(
        self, room_id: str | None, push_url: str | None, record_id: str | None
    ) -> list[LiveMix]:
        """Lives matching every given filter; 40041 when none does."""
        found = [
            live
            for live in self._lives.values()
            if (not room_id or live.room_id == room_id)
            and (not push_url or live.push_url == push_url)
            and (not record_id or live.record_id == record_id)
        ]
        if not found:
            raise VendorError(40041, NOT_STARTED)
        return found

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [
            {"room_id": live.room_id, "videos": live.videos, **live.answer()}
            for live in self._lives.values()
        ]
