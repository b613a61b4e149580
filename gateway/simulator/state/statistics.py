"""Usage counters behind ``/room/get_statistic``: timestamped entries summed over a window."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["COUNTERS", "StatisticsStore", "platform_counter"]

# The counters the reference's get_statistic example returns, in its order. The field table
# spells one `andronid_cnt`; the example (and this simulator) says `android_cnt`.
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

_PLATFORM_COUNTERS = {
    "ios": "ios_cnt",
    "android": "android_cnt",
    "pc": "pc_cnt",
    "web": "web_cnt",
    "box": "box_cnt",
}


def platform_counter(device_type: str) -> str:
    """The per-platform counter a participant of ``device_type`` adds to."""
    return _PLATFORM_COUNTERS.get(device_type, "other_cnt")


@dataclass(slots=True)
class StatisticEntry:
    """Counter increments that happened at ``timestamp`` (Unix seconds) in ``room_id``."""

    timestamp: float
    room_id: str | None
    counters: dict[str, int] = field(default_factory=dict)


class StatisticsStore:
    """Entries are added by room activity (open, join, close) or set by the scenario API."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: list[StatisticEntry] = []

    def record(self, room_id: str | None, **counters: int) -> None:
        """Add an entry now (e.g. ``user_cnt=1, web_cnt=1`` when a web user joins)."""
        self._entries.append(StatisticEntry(self._clock(), room_id, dict(counters)))

    def replace(
        self, room_id: str | None, counters: Mapping[str, int], at: float | None = None
    ) -> None:
        """Drop the entries of ``room_id`` (all entries when None) and store ``counters``."""
        if room_id is None:
            self._entries = []
        else:
            self._entries = [e for e in self._entries if e.room_id != room_id]
        timestamp = self._clock() if at is None else at
        self._entries.append(StatisticEntry(timestamp, room_id, dict(counters)))

    def knows_room(self, room_id: str) -> bool:
        """True when any entry belongs to ``room_id`` (a deleted room still has statistics)."""
        return any(e.room_id == room_id for e in self._entries)

    def totals(self, start: float, end: float, room_id: str | None = None) -> dict[str, int]:
        """Every counter summed over entries in ``[start, end]``, optionally for one room."""
        totals = dict.fromkeys(COUNTERS, 0)
        for entry in self._window(start, end, room_id):
            for name, value in entry.counters.items():
                totals[name] = totals.get(name, 0) + value
        return totals

    def _window(self, start: float, end: float, room_id: str | None) -> Iterable[StatisticEntry]:
        for entry in self._entries:
            if start <= entry.timestamp <= end and (room_id is None or entry.room_id == room_id):
                yield entry

    def snapshot(self) -> list[dict[str, object]]:
        """All entries, for the scenario API's state dump."""
        return [
            {"timestamp": e.timestamp, "room_id": e.room_id, "counters": dict(e.counters)}
            for e in self._entries
        ]
