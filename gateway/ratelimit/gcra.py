"""GCRA (generic cell rate algorithm) as virtual scheduling: each request reserves a start time.

Written by hand: the limiter libraries at hand answer "may I go now?" (aiolimiter's leaky
bucket in one process, ``limits``' windows on Redis); the gateway needs the exact time a
request may start, to sleep until then, to give up early when that is past the command's
deadline, and to run the same arithmetic inside a Redis script for replicas.

With emission interval ``T = 1/rate`` and tolerance ``tau = (burst - 1) * T``, a request at
time ``now`` may start at ``max(now, tat - tau)``; reserving it moves the theoretical arrival
time to ``max(tat, start) + T``. Whatever the arrivals, at most ``burst + rate * w`` requests
start in any window of length ``w``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Gcra", "GcraState"]


@dataclass(frozen=True, slots=True)
class Gcra:
    """The parameters: ``rate`` requests per second, ``burst`` at once."""

    rate: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        """Seconds between requests at the sustained rate."""
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of schedule a request may start."""
        return (self.burst - 1) * self.interval


@dataclass(slots=True)
class GcraState:
    """The theoretical arrival time of one limiter (seconds on the caller's clock)."""

    tat: float = 0.0

    def start_time(self, limit: Gcra, now: float) -> float:
        """When a request arriving at ``now`` may start, without reserving."""
        return max(now, self.tat - limit.tolerance)

    def conforms_now(self, limit: Gcra, now: float) -> bool:
        """Whether a request could start immediately."""
        return self.tat - limit.tolerance <= now

    def reserve(self, limit: Gcra, now: float) -> float:
        """Reserve the next slot; returns its start time (>= now)."""
        start = self.start_time(limit, now)
        self.tat = max(self.tat, start) + limit.interval
        return start
