"""Retry policy: which failures to retry, how long to wait, when to stop.

The three questions are kept apart (stripe-python's habit): ``is_retryable`` decides from the
error alone; tenacity's ``wait_random_exponential`` is the exponential backoff with *full*
jitter (a random wait in [0, min(max, initial * 2**n)]); the stop condition combines the
attempt budget with the command's deadline, so a retry never starts past it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from gateway.errors import GatewayError

__all__ = ["RetryPolicy", "is_retryable"]

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Transient failures only: transport errors, timeouts, 5xx and the transient vendor codes."""
    return isinstance(exc, GatewayError) and exc.retryable


class _StopAtDeadline(stop_base):
    """Stop when the next attempt would start at or after the deadline."""

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self._deadline is None:
            return False
        return time.time() + (retry_state.upcoming_sleep or 0.0) >= self._deadline


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded by attempts and by the deadline (seconds on ``time.time()``)."""

    max_attempts: int = 5
    initial_wait_s: float = 0.2
    max_wait_s: float = 10.0

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        deadline: float | None = None,
        on_attempt: Callable[[int], None] | None = None,
    ) -> T:
        """Call ``attempt`` until it succeeds, fails for good, or the budget runs out."""

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_random_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s),
            stop=stop_after_attempt(self.max_attempts) | _StopAtDeadline(deadline),
            reraise=True,
        )
        number = 0
        async for try_ in retrying:
            with try_:
                number += 1
                if on_attempt is not None:
                    on_attempt(number)
                return await attempt()
        raise AssertionError("tenacity ended without a result")  # pragma: no cover
