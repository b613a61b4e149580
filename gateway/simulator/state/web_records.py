"""Recordings of web pages (``/web_record/*``): they run until stopped or ``max_time_second``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import VendorError
from .files import UrlBuilder, stamp
from .ids import IdFactory

__all__ = ["WEB_RECORD_ROOT", "WebRecord", "WebRecordStore"]

WEB_RECORD_ROOT = "/opt/3tee/recorder/files"
_BYTES_PER_KBIT = 125


@dataclass(slots=True)
class WebRecord:
    """A recording of ``url`` into a video file."""

    record_id: str
    url: str
    max_time_second: int
    room_id: str
    name: str
    file_name: str
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    started_at: float
    stopped_at: float | None = None

    def ended_at(self, now: float) -> float:
        """When the recording ended (or ends): stop time, else the time limit, else now."""
        limit = self.started_at + self.max_time_second
        return min(self.stopped_at if self.stopped_at is not None else now, limit)

    def running(self, now: float) -> bool:
        """True until stopped or past its time limit."""
        return self.stopped_at is None and now < self.started_at + self.max_time_second

    def duration(self, now: float) -> float:
        """Recorded seconds so far."""
        return max(self.ended_at(now) - self.started_at, 0.0)

    def size_kb(self, now: float) -> float:
        """File size in kB, from the bitrate."""
        return round(self.duration(now) * self.bitrate_kbps * _BYTES_PER_KBIT / 1000, 1)

    @property
    def path(self) -> str:
        """Where the file lives on the server."""
        return f"{WEB_RECORD_ROOT}/{self.file_name}"

    def snapshot(self, now: float) -> dict[str, Any]:
        """For the scenario API's state dump."""
        return {
            "record_id": self.record_id,
            "url": self.url,
            "room_id": self.room_id,
            "name": self.name,
            "path": self.path,
            "running": self.running(now),
            "duration": self.duration(now),
        }


class WebRecordStore:
    """Web recordings by id."""

    def __init__(self, ids: IdFactory, clock: Callable[[], float], urls: UrlBuilder) -> None:
        self._ids = ids
        self._clock = clock
        self.urls = urls
        self._records: dict[str, WebRecord] = {}

    def start(self, url: str, max_time_second: int, **options: Any) -> WebRecord:
        """Start recording ``url``; 40121 when it is not an http(s) address."""
        if not url.startswith(("http://", "https://")):
            raise VendorError(40121, " faild reason = Url load failed.")
        if max_time_second <= 0:
            raise VendorError(40002, "arg max_time_second required")
        now = self._clock()
        record_id = self._ids.uuid()
        file_name = options.pop("file_name", None) or f"{record_id}-{stamp(now)}.mp4"
        record = WebRecord(
            record_id=record_id,
            url=url,
            max_time_second=max_time_second,
            file_name=file_name,
            started_at=now,
            **options,
        )
        self._records[record_id] = record
        return record

    def get(self, record_id: str, code: int, msg: str) -> WebRecord:
        """The record, or the error ``code``/``msg`` the calling endpoint documents."""
        record = self._records.get(record_id)
        if record is None:
            raise VendorError(code, msg)
        return record

    def find(self, record_id: str) -> WebRecord | None:
        """The record, or None."""
        return self._records.get(record_id)

    def stop(self, record_id: str) -> WebRecord:
        """Stop it (again is harmless); 41005 with the reference's grpc text when unknown."""
        record = self.get(
            record_id,
            41005,
            "Internal server error grpc ret = -1, msg = rpc error: code = Unknown "
            "desc = not found record info!",
        )
        if record.stopped_at is None:
            record.stopped_at = record.ended_at(self._clock())
        return record

    def by_path(self, path: str) -> WebRecord | None:
        """The record whose file is ``path``."""
        return next((r for r in self._records.values() if r.path == path), None)

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        now = self._clock()
        return [r.snapshot(now) for r in self._records.values()]
