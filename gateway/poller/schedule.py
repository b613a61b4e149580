"""When each kind of data is due, and which rooms a cycle reads.

Cadence per data kind: participants often, statistics less, media-server user counts in
between. After a kind was read, it is next due ``interval * (1 ± jitter)`` after the cycle
*started*, or when it ended if that is later: a cycle shorter than the interval keeps the
cadence (the room list, and with it joins, leaves and closes, every interval), a slow cycle
delays the next one, and cycles never stack. The room list is read in
every cycle that reads participants or statistics (they need to know which rooms are open).

Large estates are read round-robin: a cycle reads at most ``max_rooms`` rooms per kind,
first the rooms that need it most (just opened, or whose user list in ``/room/list``
differs from the participants last known, then those with participants known only from the
list), then the others in room-id order from where the
previous cycle stopped.
"""

from __future__ import annotations

import bisect
import enum
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Cadence", "Kind", "RoundRobin", "Schedule"]


class Kind(enum.Enum):
    """A kind of data the poller reads."""

    PARTICIPANTS = "participants"
    STATISTICS = "statistics"
    MEDIA_SERVERS = "media_servers"


@dataclass(frozen=True, slots=True)
class Cadence:
    """Seconds between reads of one kind, and the jitter fraction applied to each interval."""

    interval_s: float
    jitter: float = 0.1

    def next_after(self, ended: float, rng: random.Random) -> float:
        """When the kind is next due, if its last read ended at ``ended``."""
        # Jitter only spreads replicas and accounts apart; it needs no cryptographic quality.
        spread = rng.uniform(-self.jitter, self.jitter)
        return ended + self.interval_s * (1.0 + spread)


@dataclass(slots=True)
class Schedule:
    """The next due time of each kind (monotonic seconds); all are due at the start."""

    cadences: Mapping[Kind, Cadence]
    rng: random.Random = field(default_factory=random.Random)
    due_at: dict[Kind, float] = field(default_factory=dict)

    def due(self, now: float) -> set[Kind]:
        """The kinds due at ``now``."""
        return {k for k in self.cadences if self.due_at.get(k, float("-inf")) <= now}

    def done(self, kinds: Iterable[Kind], ended: float, started: float | None = None) -> None:
        """``kinds`` were read (or tried) in a cycle from ``started`` (default: ``ended``) to
        ``ended``."""
        begun = ended if started is None else started
        for kind in kinds:
            self.due_at[kind] = max(self.cadences[kind].next_after(begun, self.rng), ended)

    def next_due(self) -> float:
        """The earliest time a kind becomes due."""
        return min((self.due_at.get(k, float("-inf")) for k in self.cadences), default=0.0)


@dataclass(slots=True)
class RoundRobin:
    """Picks up to ``limit`` rooms per cycle, continuing after the last room read."""

    limit: int
    cursor: str | None = None

    def pick(
        self, rooms: Sequence[str], *urgent: Iterable[str], limit: int | None = None
    ) -> list[str]:
        """``rooms`` sorted by id; the rooms of each ``urgent`` tier (subsets) go first, tier
        by tier, then the others from where the previous pick stopped; at most ``limit``
        (default: the round-robin's own)."""
        most = self.limit if limit is None else min(limit, self.limit)
        chosen: list[str] = []
        taken: set[str] = set()
        members = set(rooms)
        for tier in urgent:
            for room in sorted(set(tier).intersection(members) - taken):
                if len(chosen) >= most:
                    break
                chosen.append(room)
                taken.add(room)
        if len(rooms) <= most:
            self.cursor = None
            return chosen + [r for r in rooms if r not in taken]
        i = 0 if self.cursor is None else bisect.bisect_right(rooms, self.cursor)
        for _ in range(len(rooms)):
            if len(chosen) >= most:
                break
            room = rooms[i % len(rooms)]
            if room not in taken:
                chosen.append(room)
                taken.add(room)
                self.cursor = room
            i += 1
        return chosen
