"""gateway.retry: each policy stops at its attempts and at the deadline; the test switch."""

from __future__ import annotations

import time

import pytest

from gateway import retry
from gateway.errors import GatewayError
from gateway.settings import CommandsSettings, RetrySettings


class TransientError(GatewayError):
    retryable = True


class PermanentError(GatewayError):
    retryable = False


def _failing(error: Exception) -> tuple[list[float], object]:
    tries: list[float] = []

    async def attempt() -> None:
        tries.append(time.monotonic())
        raise error

    return tries, attempt


async def test_vendor_calls_stop_at_the_attempt_budget() -> None:
    tries, attempt = _failing(TransientError("flaky"))
    policy = retry.vendor_calls(RetrySettings(max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0))
    with pytest.raises(TransientError):
        await policy.run(attempt)  # type: ignore[arg-type]
    assert len(tries) == 3


async def test_vendor_calls_do_not_retry_a_permanent_error() -> None:
    tries, attempt = _failing(PermanentError("no"))
    with pytest.raises(PermanentError):
        await retry.vendor_calls(RetrySettings()).run(attempt)  # type: ignore[arg-type]
    assert len(tries) == 1


async def test_vendor_calls_stop_at_the_deadline() -> None:
    """Many attempts allowed, but no try starts (or waits) past the deadline."""
    tries, attempt = _failing(TransientError("flaky"))
    policy = retry.vendor_calls(
        RetrySettings(max_attempts=1000, initial_wait_s=0.02, max_wait_s=0.02)
    )
    deadline = time.time() + 0.3
    with pytest.raises(TransientError):
        await policy.run(attempt, deadline)  # type: ignore[arg-type]
    assert time.time() < deadline + 0.05
    assert 1 < len(tries) < 1000


async def test_on_attempt_hears_each_try() -> None:
    _, attempt = _failing(TransientError("flaky"))
    heard: list[int] = []
    with retry.testing(), pytest.raises(TransientError):
        await retry.vendor_calls(RetrySettings(max_attempts=4)).run(attempt, None, heard.append)  # type: ignore[arg-type]
    assert heard == [1, 2, 3, 4]


async def test_the_test_switch_makes_every_wait_zero_and_caps_attempts() -> None:
    """Ten processing tries would wait 0.4 + 0.8 + ... seconds; in the switch, none."""
    tries, attempt = _failing(ConnectionError("store down"))
    policy = retry.processing_failures(CommandsSettings(max_processing_failures=10))
    started = time.monotonic()
    with retry.testing(), pytest.raises(ConnectionError):
        await policy.run(attempt)  # type: ignore[arg-type]
    assert len(tries) == 10
    assert time.monotonic() - started < 0.5
    tries.clear()
    with retry.testing(attempts=2), pytest.raises(ConnectionError):
        await policy.run(attempt)  # type: ignore[arg-type]
    assert len(tries) == 2


async def test_without_the_switch_processing_failures_back_off_exponentially() -> None:
    """0.4 s after the first failure: the schedule the consumer always had."""
    tries, attempt = _failing(ConnectionError("store down"))
    policy = retry.processing_failures(CommandsSettings(max_processing_failures=2))
    with pytest.raises(ConnectionError):
        await policy.run(attempt)  # type: ignore[arg-type]
    assert len(tries) == 2
    assert 0.35 < tries[1] - tries[0] < 1.0


async def test_resume_counts_the_first_try_made_outside_the_policy() -> None:
    tries, attempt = _failing(ConnectionError("store down"))
    policy = retry.processing_failures(CommandsSettings(max_processing_failures=3))
    with retry.testing(), pytest.raises(ConnectionError):
        await policy.resume(attempt, ConnectionError("first"), None)  # type: ignore[arg-type]
    assert len(tries) == 2  # 1 outside + 2 here = 3


async def test_claim_wait_asks_until_the_answer_changes() -> None:
    answers = iter(["held", "held", "free"])

    async def ask() -> str:
        return next(answers)

    policy = retry.claim_wait(lambda answer: answer == "held")
    with retry.testing():
        assert await policy.resume(ask, "held", None) == "free"


async def test_claim_wait_hands_back_the_last_answer_at_the_deadline() -> None:
    async def ask() -> str:
        return "held"

    policy = retry.claim_wait(lambda answer: answer == "held")
    started = time.monotonic()
    with retry.testing(wait=0.01):
        assert await policy.resume(ask, "held", time.time() + 0.1) == "held"
    assert time.monotonic() - started < 1.0


async def test_store_outcome_stops_after_its_duration() -> None:
    tries, attempt = _failing(ConnectionError("store down"))
    policy = retry.store_outcome(RetrySettings(store_outcome_s=0.2))
    started = time.monotonic()
    with retry.testing(wait=0.01), pytest.raises(ConnectionError):
        await policy.run(attempt)  # type: ignore[arg-type]
    assert 0.15 < time.monotonic() - started < 1.0
    assert len(tries) > 2
