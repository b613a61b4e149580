"""Recording files: where they live, how the vendor formats their sizes and URLs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["RECORDER_ROOT", "RecordFile", "UrlBuilder", "stamp"]

RECORDER_ROOT = "/home/data/recorder/files/sim"

# Nominal bitrates (bytes per second) used to give simulated files plausible sizes.
BYTES_PER_SECOND = {"mp4": 187_500, "mp3": 4_000, "tms": 191_500, "webm": 120_000}


def stamp(timestamp: float, fmt: str = "%Y-%m-%d-%H-%M-%S") -> str:
    """A UTC time stamp as the recorder writes it into file names."""
    return time.strftime(fmt, time.gmtime(timestamp))


class UrlBuilder:
    """Download and play URLs pointing back at this simulator."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def download(self, path: str) -> str:
        """``/attachment?file=<path>`` at the server root."""
        return f"{self.base_url}/attachment?file={path}"

    def play(self, path: str, slash: bool = False) -> str:
        """``/videoPlayer?url=<download url>`` (``/videoPlayer/?url=`` where the reference
        prints it so, in ``/room/get_record``)."""
        player = "/videoPlayer/?url=" if slash else "/videoPlayer?url="
        return f"{self.base_url}{player}{self.download(path)}"


@dataclass(slots=True)
class RecordFile:
    """One file a recording produced."""

    path: str
    room_id: str
    record_id: str
    file_type: str
    start_time: float
    end_time: float

    @property
    def name(self) -> str:
        """The file name without directories."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def duration_s(self) -> float:
        """Recorded seconds."""
        return max(self.end_time - self.start_time, 0.0)

    @property
    def size_bytes(self) -> int:
        """A size consistent with the duration and the file type."""
        return int(self.duration_s * BYTES_PER_SECOND.get(self.file_type, 100_000))

    def size_text(self) -> str:
        """The vendor's size notation, e.g. ``"3.484M"``."""
        return f"{self.size_bytes / 1_048_576:.3f}M"

    def duration_text(self) -> str:
        """The vendor's duration notation, e.g. ``"40.005s"``."""
        return f"{self.duration_s:.3f}s"

    def answer(self, urls: UrlBuilder, name: str | None = None) -> dict[str, Any]:
        """The per-file shape of ``/room/mix_record/stop`` and ``/room/desktop_record/get``."""
        return {
            "download_url": urls.download(self.path),
            "duration": self.duration_text(),
            "play_url": urls.play(self.path),
            "file_size": self.size_text(),
            "start_time": str(int(self.start_time)),
            "end_time": str(int(self.end_time)),
            "room_id": self.room_id,
            "file_type": self.file_type,
            "name": name or self.name,
        }
