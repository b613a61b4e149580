"""On whose behalf a vendor request waits for the rate limit: a lane and a deadline.

The vendor client makes more HTTP requests than its callers see (a token fetch, a repeat
after a refused token), and every one of them counts against the vendor's limit. So the
client waits for a slot before each request itself, and every caller hands it the budget to
draw on as an argument: the command handler ``RequestBudget(Lane.COMMANDS, deadline)``, the
poller ``RequestBudget(Lane.POLLER, cycle deadline)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.ratelimit.lanes import Lane

__all__ = ["UNHURRIED_COMMANDS", "RequestBudget"]


@dataclass(frozen=True, slots=True)
class RequestBudget:
    """The lane to draw from, and the time (``time.time()``) past which not to wait."""

    lane: Lane
    deadline: float | None = None


# The budget of a request whose caller names none (the per-endpoint convenience methods, the
# CLI, the readiness probe's token fetch): the commands lane, no deadline.
UNHURRIED_COMMANDS = RequestBudget(Lane.COMMANDS)
