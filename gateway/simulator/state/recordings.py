"""Server-side recordings of rooms: mixed recordings (``/room/mix_record/*``) and desktop
recordings (``/room/desktop_record/*``), the files they leave behind and their transcoding.

One mixed recording and one desktop recording can run per room at a time (a second start is
40040, a stop without start 40041: the reference files both under ``mix/desktop_record``).
Stopping produces the files at once, already transcoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .files import RECORDER_ROOT, RecordFile, UrlBuilder, stamp
from .ids import IdFactory
from .rooms import Room

__all__ = ["RecordStatus", "Recording", "RecordingStore", "TranscodeStatus"]


class RecordStatus:
    """``record_status`` of ``/room/record/status`` (the reference lists 0-4 without meanings)."""

    RECORDING = 1
    FINISHED = 2


class TranscodeStatus:
    """``status`` of ``/transcode/query`` (the reference lists 0-3 without meanings)."""

    NOT_STARTED = 0
    DONE = 3


@dataclass(slots=True)
class Recording:
    """A mixed or desktop recording of a room."""

    record_id: str
    room_id: str
    kind: str  # "mix" or "desktop"
    name: str
    creator_id: str
    started_at: float
    options: dict[str, Any] = field(default_factory=dict)
    videos: list[Any] = field(default_factory=list)
    audio_mixer_users: list[Any] = field(default_factory=list)
    stopped_at: float | None = None
    original: RecordFile | None = None  # the .tms a mixed recording leaves
    files: list[RecordFile] = field(default_factory=list)  # transcoded / desktop files

    @property
    def running(self) -> bool:
        """True until stopped."""
        return self.stopped_at is None

    @property
    def status(self) -> int:
        """``record_status``."""
        return RecordStatus.RECORDING if self.running else RecordStatus.FINISHED

    @property
    def transcode_status(self) -> int:
        """``status`` of ``/transcode/query``: files are transcoded as soon as it stops."""
        return TranscodeStatus.NOT_STARTED if self.running else TranscodeStatus.DONE

    def snapshot(self) -> dict[str, Any]:
        """For the scenario API's state dump."""
        return {
            "record_id": self.record_id,
            "room_id": self.room_id,
            "kind": self.kind,
            "name": self.name,
            "running": self.running,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "videos": self.videos,
            "audio_mixer_users": self.audio_mixer_users,
            "files": [f.path for f in self.files],
        }


class RecordingStore:
    """All recordings by id, with at most one running mixed and one desktop recording per room."""

    def __init__(self, ids: IdFactory, clock: Callable[[], float], urls: UrlBuilder) -> None:
        self._ids = ids
        self._clock = clock
        self.urls = urls
        self._records: dict[str, Recording] = {}
        self._running: dict[tuple[str, str], Recording] = {}  # (room_id, kind) -> recording

    # -- mixed recordings --------------------------------------------------------------

    def start(
        self, room: Room, kind: str, name: str, creator_id: str = "", **options: Any
    ) -> Recording:
        """Start a recording of ``kind``; 40040 when one of that kind already runs in the room."""
        if (room.room_id, kind) in self._running:
            raise VendorError(40040, "room already has mix_record or mix_live")
        now = self._clock()
        record = Recording(
            record_id=self._ids.hex(32),
            room_id=room.room_id,
            kind=kind,
            name=name or f"{stamp(now, '%Y-%m-%d %H.%M.%S')}auto_record",
            creator_id=creator_id,
            started_at=now,
            videos=options.pop("videos", None) or [],
            audio_mixer_users=options.pop("audio_mixer_users", None) or [],
            options=options,
        )
        self._records[record.record_id] = record
        self._running[(room.room_id, kind)] = record
        return record

    def running(self, room_id: str, kind: str, record_id: str | None = None) -> Recording:
        """The running recording of ``kind``; 40041 when none runs (or ``record_id`` differs)."""
        record = self._running.get((room_id, kind))
        if record is None or (record_id and record.record_id != record_id):
            text = (
                "room hasn't start mix_record"
                if kind == "mix"
                else ("room hasn't start mix_record or mix_live")
            )
            raise VendorError(40041, text)
        return record

    def stop(self, room: Room, kind: str, record_id: str | None = None) -> Recording:
        """Stop the running recording and produce its files; 40041 when none runs."""
        record = self.running(room.room_id, kind, record_id)
        self._finish(record, room)
        return record

    def stop_room(self, room: Room) -> None:
        """Stop whatever runs in the room (it is closing); the files are kept."""
        for kind in ("mix", "desktop"):
            record = self._running.get((room.room_id, kind))
            if record is not None:
                self._finish(record, room)

    def _finish(self, record: Recording, room: Room) -> None:
        record.stopped_at = self._clock()
        del self._running[(record.room_id, record.kind)]
        base = (
            f"{RECORDER_ROOT}/{stamp(record.started_at, '%Y%m%d')}/"
            f"{record.room_id}-{record.record_id}-{stamp(record.started_at)}"
        )
        start, end = record.started_at, record.stopped_at

        def file(path: str, file_type: str) -> RecordFile:
            return RecordFile(path, record.room_id, record.record_id, file_type, start, end)

        if record.kind == "desktop":
            file_name = record.options.get("file_name") or f"{base}.mp4"
            if not file_name.startswith("/"):
                file_name = f"{RECORDER_ROOT}/{file_name}"
            record.files = [file(file_name, "mp4")]
            return
        record.original = file(f"{base}.tms", "tms")
        record.files = [file(f"{base}.mp4", "mp4")]
        if record.options.get("enable_audio_record", True):
            record.files.append(file(f"{base}.mp3", "mp3"))
        if record.options.get("enable_individual_record"):
            by_id = record.options.get("disable_user_name", False)
            for p in room.participants.values():
                label = p.user_id if by_id else f"{p.user_name}_{p.user_id}"
                record.files.append(file(f"{base}/{label}_v1.mp4", "mp4"))

    # -- queries -----------------------------------------------------------------------

    def find(self, record_id: str) -> Recording | None:
        """Any recording by id."""
        return self._records.get(record_id)

    def of_room(self, room_id: str, kind: str | None = None) -> list[Recording]:
        """The recordings of a room, oldest first (optionally of one kind)."""
        return [
            r
            for r in self._records.values()
            if r.room_id == room_id and (kind is None or r.kind == kind)
        ]

    def files(self) -> Iterable[RecordFile]:
        """Every file of every finished recording (the originals too)."""
        for record in self._records.values():
            if record.original is not None:
                yield record.original
            yield from record.files

    def find_file(self, path: str) -> RecordFile | None:
        """A recording file by its path on the server."""
        return next((f for f in self.files() if f.path == path), None)

    def delete_room(self, room_id: str) -> int:
        """Delete every finished recording of the room; returns how many."""
        doomed = [r.record_id for r in self.of_room(room_id) if not r.running]
        for record_id in doomed:
            del self._records[record_id]
        return len(doomed)

    def delete_file(self, url: str) -> RecordFile:
        """Delete one file named by its path or download URL; 40094 when unknown."""
        path = url.split("file=", 1)[1].split("&", 1)[0] if "file=" in url else url
        for record in self._records.values():
            if record.original is not None and record.original.path == path:
                record.original = None
                return RecordFile(path, record.room_id, record.record_id, "tms", 0, 0)
            for f in record.files:
                if f.path == path:
                    record.files.remove(f)
                    return f
        raise VendorError(40094, "no such record")

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [r.snapshot() for r in self._records.values()]
