"""One retry vocabulary for the gateway: named policies on tenacity, and a switch for tests.

A policy answers three questions apart (stripe-python's habit): *what* is retried (``retry``:
an error the policy calls transient, or a result that means "not yet"), *how long to wait*
between tries (``wait``), and *when to stop* (an attempt budget, a total duration, and the
caller's deadline on ``time.time()``, whichever comes first). The policies:

* :func:`vendor_calls`: a vendor request that failed transiently (transport errors, timeouts,
  5xx/429, the transient vendor codes); full-jitter exponential backoff; attempts from
  settings; never starts a try whose backoff would end past the deadline. The commands and
  the poller both use it.
* :func:`store_outcome`: storing an outcome after the vendor call; any error, for a while
  (raising instead would rerun the record, and with it the vendor call).
* :func:`claim_wait`: another owner holds the idempotency key; ask again, doubling the
  pause up to a second, until it finishes or the deadline passes.
* :func:`processing_failures`: a record whose processing failed on infrastructure (store,
  broker); a few tries, then the record goes to the dead-letter topic.

:func:`testing` makes every policy wait zero (and optionally caps attempts) for the duration
of a ``with`` block, stamina-style, so tests need not monkeypatch sleeps.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    DoAttempt,
    DoSleep,
    RetryCallState,
    retry_base,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    stop_never,
    wait_exponential,
    wait_none,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from gateway.errors import GatewayError
from gateway.settings import CommandsSettings, RetrySettings

__all__ = [
    "RetryPolicy",
    "claim_wait",
    "is_retryable",
    "processing_failures",
    "store_outcome",
    "testing",
    "vendor_calls",
]

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Transient failures only: transport errors, timeouts, 5xx and the transient vendor codes."""
    return isinstance(exc, GatewayError) and exc.retryable


@dataclass(frozen=True, slots=True)
class _TestMode:
    attempts: int | None
    wait: float


_test_mode: _TestMode | None = None


@contextlib.contextmanager
def testing(*, attempts: int | None = None, wait: float = 0.0) -> Iterator[None]:  # noqa: PT028
    """For tests: inside the block every policy waits ``wait`` seconds between tries (zero by
    default) and, when ``attempts`` is given, tries at most that often."""
    global _test_mode
    saved, _test_mode = _test_mode, _TestMode(attempts, wait)
    try:
        yield
    finally:
        _test_mode = saved


class _StopAtDeadline(stop_base):
    """Stop when the next try would start at or after the deadline (``time.time()``).

    ``count_wait``: whether the pause before the next try counts (a vendor retry whose backoff
    ends past the deadline is not worth starting; a claim wait asks once more after its pause).
    """

    def __init__(self, deadline: float, count_wait: bool) -> None:
        self._deadline = deadline
        self._count_wait = count_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = (retry_state.upcoming_sleep or 0.0) if self._count_wait else 0.0
        return time.time() + upcoming >= self._deadline


def _last_result(retry_state: RetryCallState) -> Any:
    """When a result-retrying policy stops: hand back the last result, not a RetryError."""
    assert retry_state.outcome is not None
    return retry_state.outcome.result()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What to retry, how long to wait between tries, and when to stop."""

    name: str
    retry: retry_base
    wait: wait_base
    max_attempts: int | None = None  # None: no bound on tries (the deadline or duration ends it)
    max_duration_s: float | None = None
    wait_counts_against_deadline: bool = True

    def retrying(self, deadline: float | None = None) -> AsyncRetrying:
        """A fresh tenacity controller bounded by this policy and by ``deadline``."""
        attempts, wait = self.max_attempts, self.wait
        mode = _test_mode
        if mode is not None:
            wait = wait_none() if mode.wait <= 0 else _fixed(mode.wait)
            if mode.attempts is not None:
                attempts = mode.attempts if attempts is None else min(attempts, mode.attempts)
        stops: list[stop_base] = []
        if attempts is not None:
            stops.append(stop_after_attempt(attempts))
        if self.max_duration_s is not None:
            stops.append(stop_after_delay(self.max_duration_s))
        if deadline is not None:
            stops.append(_StopAtDeadline(deadline, self.wait_counts_against_deadline))
        stop = stops[0] if len(stops) == 1 else stop_any(*stops) if stops else stop_never
        return AsyncRetrying(
            retry=self.retry,
            wait=wait,
            stop=stop,
            reraise=True,
            retry_error_callback=_last_result if isinstance(self.retry, retry_if_result) else None,
        )

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        deadline: float | None = None,
        on_attempt: Callable[[int], None] | None = None,
    ) -> T:
        """Call ``attempt`` until it succeeds, fails for good, or the budget runs out; the last
        error is raised as it is. ``on_attempt`` hears each try's number before it starts.

        The first try is made bare: tenacity's bookkeeping (a controller, a call state, its
        hooks) is paid for only when a try did not do (``resume``)."""
        number = 1
        if on_attempt is not None:
            on_attempt(number)
        first: T | Exception
        try:
            first = await attempt()
        except Exception as exc:
            first = exc
        else:
            if not isinstance(self.retry, retry_if_result):
                return first

        async def again() -> T:
            nonlocal number
            number += 1
            if on_attempt is not None:
                on_attempt(number)
            return await attempt()

        return await self.resume(again, first, deadline)

    async def resume(
        self, attempt: Callable[[], Awaitable[T]], first: T | Exception, deadline: float | None
    ) -> T:
        """Go on after a first try made outside the policy, which gave ``first`` (its result or
        its error): a hot path tries once bare and pays for the retry bookkeeping only when
        that try did not do. Waits and stops as if the first try had been the policy's own."""
        retrying = self.retrying(deadline)
        retrying.begin()
        state = RetryCallState(retrying, fn=None, args=(), kwargs={})
        if isinstance(first, Exception):
            state.set_exception((type(first), first, first.__traceback__))
        else:
            state.set_result(first)
        while True:  # tenacity's own loop (AsyncRetrying.__call__), from the second try on
            do = await retrying.iter(retry_state=state)
            if isinstance(do, DoAttempt):
                try:
                    answer = await attempt()
                except Exception:
                    state.set_exception(sys.exc_info())  # type: ignore[arg-type]
                else:
                    state.set_result(answer)
            elif isinstance(do, DoSleep):
                state.prepare_for_next_attempt()
                await retrying.sleep(do)  # type: ignore[misc]
            else:
                result: T = do
                return result


def _fixed(seconds: float) -> wait_base:
    return wait_exponential(multiplier=seconds, exp_base=1, max=seconds)


def vendor_calls(settings: RetrySettings) -> RetryPolicy:
    """Transient vendor failures: full-jitter backoff (a random wait in
    [0, min(max, initial * 2**n)]), bounded by attempts and by the caller's deadline."""
    return RetryPolicy(
        "vendor calls",
        retry_if_exception(is_retryable),
        wait_random_exponential(multiplier=settings.initial_wait_s, max=settings.max_wait_s),
        max_attempts=settings.max_attempts,
    )


def store_outcome(settings: RetrySettings) -> RetryPolicy:
    """Storing an outcome after the vendor call: any error, for ``store_outcome_s``."""
    return RetryPolicy(
        "store outcome",
        retry_if_exception_type(Exception),
        wait_random_exponential(multiplier=0.1, max=2.0),
        max_duration_s=settings.store_outcome_s,
    )


def claim_wait(still_held: Callable[[Any], bool]) -> RetryPolicy:
    """Another owner holds the key: ask again after 0.05 s, doubling up to 1 s, while
    ``still_held(answer)``, until the deadline has passed (none: until it is released)."""
    return RetryPolicy(
        "claim wait",
        retry_if_result(still_held),
        wait_exponential(multiplier=0.05, max=1.0),
        wait_counts_against_deadline=False,
    )


def processing_failures(settings: CommandsSettings) -> RetryPolicy:
    """A record whose processing failed on infrastructure: ``max_processing_failures`` tries
    with 0.4 s, 0.8 s, ... up to 10 s between them (then the caller dead-letters it)."""
    return RetryPolicy(
        "processing failures",
        retry_if_exception_type(Exception),
        wait_exponential(multiplier=0.4, max=10.0),
        max_attempts=settings.max_processing_failures,
    )
