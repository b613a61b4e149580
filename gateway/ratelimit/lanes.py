"""Priority lanes over one account budget: commands first, the poller with a reserved share.

The account's rate ``R`` and burst ``B`` are split into two GCRA schedules: the poller's
``R*p`` (its reserved share ``p``) and the commands' ``R*(1-p)``; every request is charged to
exactly one schedule, so the vendor never sees more than ``B + R*w`` requests in a window
``w``. A lane whose own schedule would make it wait may *borrow* a slot from the other lane's
schedule when that one could start a request right now (it is idle); borrowing stops as soon
as the owner queues, so neither lane starves the other for longer than a slot or two.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gateway.ratelimit.gcra import Gcra, GcraState

__all__ = ["Lane", "LaneBudget", "split_budget"]


class Lane(enum.Enum):
    """Who is asking."""

    COMMANDS = "commands"
    POLLER = "poller"


def split_budget(rate: float, burst: int, poller_share: float) -> dict[Lane, Gcra]:
    """The two lanes' GCRA parameters; bursts add up to ``burst``, rates to ``rate``."""
    if not 0.0 < poller_share < 1.0:
        raise ValueError("poller_share must be between 0 and 1")
    if burst < 2:
        raise ValueError("burst must be at least 2: each lane needs a slot of its own")
    poller_burst = min(burst - 1, max(1, round(burst * poller_share)))
    commands_burst = burst - poller_burst
    return {
        Lane.COMMANDS: Gcra(rate * (1 - poller_share), commands_burst),
        Lane.POLLER: Gcra(rate * poller_share, poller_burst),
    }


@dataclass(slots=True)
class LaneBudget:
    """The two lanes' schedules of one account, as plain arithmetic on a clock value."""

    limits: dict[Lane, Gcra]
    states: dict[Lane, GcraState] = field(
        default_factory=lambda: {lane: GcraState() for lane in Lane}
    )
    # False when the other lane's slots belong to another process (no shared store).
    borrow: bool = True

    def reserve(self, lane: Lane, now: float, latest: float | None = None) -> float | None:
        """Reserve a slot for ``lane``: its start time, or None if that is after ``latest``."""
        own = self.states[lane]
        other_lane = Lane.POLLER if lane is Lane.COMMANDS else Lane.COMMANDS
        other = self.states[other_lane]
        if (
            self.borrow
            and not own.conforms_now(self.limits[lane], now)
            and other.conforms_now(self.limits[other_lane], now)
        ):
            return other.reserve(self.limits[other_lane], now)
        start = own.start_time(self.limits[lane], now)
        if latest is not None and start > latest:
            return None
        return own.reserve(self.limits[lane], now)
