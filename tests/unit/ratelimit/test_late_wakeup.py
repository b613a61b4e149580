"""A task woken long after its slot takes a fresh one instead of joining a burst."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.ratelimit import limiter
from gateway.ratelimit.limiter import InProcessRateLimiter, late_allowance


def test_late_allowance_is_two_slots_within_bounds() -> None:
    assert late_allowance(100) == pytest.approx(0.02)
    assert late_allowance(1) == 0.05
    assert late_allowance(10_000) == 0.005


async def test_on_time_wakeup_uses_one_slot() -> None:
    now = [1000.0]

    async def sleep(s: float) -> None:
        now[0] += s

    rl = InProcessRateLimiter(100, 2, 0.5, borrow=False, clock=lambda: now[0], sleep=sleep)
    waits = [await rl.acquire() for _ in range(4)]
    # commands lane: 50/s, burst 1 -> one slot every 20 ms, each used on time.
    assert waits == pytest.approx([0.0, 0.02, 0.02, 0.02])


async def test_late_wakeup_takes_a_fresh_slot() -> None:
    now = [1000.0]
    lag = [0.5]  # the first sleep oversleeps by 500 ms

    async def sleep(s: float) -> None:
        now[0] += s + lag[0]
        lag[0] = 0.0

    rl = InProcessRateLimiter(100, 2, 0.5, borrow=False, clock=lambda: now[0], sleep=sleep)
    await rl.acquire()  # slot at 1000.00
    await rl.acquire()  # slot at 1000.02, woken at 1000.52: too late, reserved again
    assert now[0] == pytest.approx(1000.52)
    await rl.acquire()  # the next slot follows the fresh one, not the stale one
    assert now[0] == pytest.approx(1000.54)


async def _burst_after_a_stalled_loop() -> int:
    """30 tasks reserve, the loop stalls 200 ms, and the biggest 10 ms bunch of sends is counted."""
    rl = InProcessRateLimiter(100, 6, 0.2, borrow=False)  # commands: 80/s, burst 5
    sent: list[float] = []

    async def one() -> None:
        await rl.acquire()
        sent.append(time.monotonic())

    tasks = [asyncio.create_task(one()) for _ in range(30)]
    await asyncio.sleep(0)  # every task has its slot and sleeps
    time.sleep(0.2)  # noqa: ASYNC251 - the point: the event loop is busy elsewhere
    await asyncio.gather(*tasks)
    return max(sum(1 for t in sent if s <= t < s + 0.01) for s in sent)


async def test_stalled_loop_does_not_release_a_burst() -> None:
    assert await _burst_after_a_stalled_loop() <= 10


async def test_without_the_fresh_slot_the_stall_would_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check above can fail: with one try only, the stale slots go out together."""
    monkeypatch.setattr(limiter, "_LATE_TRIES", 1)
    assert await _burst_after_a_stalled_loop() > 10


async def _sends_after_a_slow_link(ahead_on_late: bool) -> list[tuple[float, float]]:
    """A shared limiter (GCRA at 10/s, one slot of burst) behind a link whose answers take
    500 ms (chaos net-redis): (send time, slot) for 5 requests in a row."""
    now = [1000.0]
    tat = [0.0]
    interval, rtt = 0.1, 0.5
    slots: list[float] = []

    async def sleep(s: float) -> None:
        now[0] += s

    async def reserve(ahead: float) -> float:
        asked = now[0]
        server_now = asked + rtt / 2
        start = max(server_now + (ahead if ahead_on_late else 0.0), tat[0])
        tat[0] = start + interval
        slots.append(start)
        await sleep(rtt)  # the answer comes back a round trip after the ask
        return start - server_now

    sends = []
    for _ in range(5):
        await limiter.sleep_until_slot(reserve, lambda: now[0], sleep, late_allowance(10))
        sends.append((now[0], slots[-1]))
    return sends


async def test_late_answers_ask_for_a_slot_ahead() -> None:
    """A slow link makes every answer late; the fresh slot is asked for as far ahead as the
    answer took, so the request goes at its slot, not at the moment the late answer lands."""
    for sent, slot in await _sends_after_a_slow_link(ahead_on_late=True):
        # sent half a round trip before the slot (server clock): it reaches the vendor at it
        assert sent == pytest.approx(slot - 0.25)


async def test_without_asking_ahead_the_requests_go_off_their_slots() -> None:
    """The check above can fail: re-reserved slots that are late too go at the third try."""
    sends = await _sends_after_a_slow_link(ahead_on_late=False)
    assert any(abs(sent - (slot - 0.25)) > late_allowance(10) for sent, slot in sends)
