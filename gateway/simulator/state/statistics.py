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
    """Entries are added by room activity (open, join, close) or set by the scenario API.

    Kept per room as well as in arrival order: a room's read then costs its own entries, not
    every entry of a large estate (the poller benchmark opens and closes thousands of rooms).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: list[StatisticEntry] = []
        self._by_room: dict[str | None, list[StatisticEntry]] = {}

    def _add(self, entry: StatisticEntry) -> None:
        self._entries.append(entry)
        self._by_room.setdefault(entry.room_id, []).append(entry)

    def record(self, room_id: str | None, **counters: int) -> None:
        """Add an entry now (e.g. ``user_cnt=1, web_cnt=1`` when a web user joins)."""
        self._add(StatisticEntry(self._clock(), room_id, dict(counters)))

    def replace(
        self, room_id: str | None, counters: Mapping[str, int], at: float | None = None
    ) -> None:
        """Drop the entries of ``room_id`` (all entries when None) and store ``counters``."""
        if room_id is None:
            self._entries = []
            self._by_room = {}
        else:
            self._entries = [e for e in self._entries if e.room_id != room_id]
            self._by_room.pop(room_id, None)
        timestamp = self._clock() if at is None else at
        self._add(StatisticEntry(timestamp, room_id, dict(counters)))

    def knows_room(self, room_id: str) -> bool:
        """True when any entry belongs to ``room_id`` (a deleted room still has statistics)."""
        return bool(self._by_room.get(room_id))

    def totals(self, start: float, end: float, room_id: str | None = None) -> dict[str, int]:
        """Every counter summed over entries in ``[start, end]``, optionally for one room."""
        totals = dict.fromkeys(COUNTERS, 0)
        for entry in self._window(start, end, room_id):
            for name, value in entry.counters.items():
                totals[name] = totals.get(name, 0) + value
        return totals

    def _window(self, start: float, end: float, room_id: str | None) -> Iterable[StatisticEntry]:
        entries = self._entries if room_id is None else self._by_room.get(room_id, ())
        for entry in entries:
            if start <= entry.timestamp <= end:
                yield entry

    def snapshot(self) -> list[dict[str, object]]:
        """All entries, for the scenario API's state dump."""
        return [
            {"timestamp": e.timestamp, "room_id": e.room_id, "counters": dict(e.counters)}
            for e in self._entries
        ]
