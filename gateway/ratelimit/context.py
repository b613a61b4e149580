"""Which lane and deadline the current vendor request belongs to.

The vendor client makes more HTTP requests than its callers see (a token fetch, a repeat
after a refused token), and every one of them counts against the vendor's limit. So the
client takes a slot for each request itself, and callers say on whose behalf they call by
setting this context (a contextvar, so concurrent tasks each keep their own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from gateway.ratelimit.lanes import Lane

__all__ = ["RequestBudget", "current_budget", "request_budget"]


@dataclass(frozen=True, slots=True)
class RequestBudget:
    """The lane to draw from, and the time (``time.time()``) past which not to wait."""

    lane: Lane = Lane.COMMANDS
    deadline: float | None = None


# RequestBudget is a frozen dataclass, so sharing the default instance is safe.
_budget: ContextVar[RequestBudget] = ContextVar(
    "vendor_request_budget",
    default=RequestBudget(),  # noqa: B039
)


def current_budget() -> RequestBudget:
    """The budget of the running task."""
    return _budget.get()


@contextlib.contextmanager
def request_budget(lane: Lane, deadline: float | None = None) -> Iterator[None]:
    """Vendor requests made inside the block draw on ``lane`` and give up at ``deadline``."""
    token = _budget.set(RequestBudget(lane, deadline))
    try:
        yield
    finally:
        _budget.reset(token)
