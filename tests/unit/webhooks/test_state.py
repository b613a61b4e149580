"""The ingress's in-memory state: replay guard, per-client rate, results board."""

from __future__ import annotations

import asyncio

from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.replay import InProcessReplayGuard
from gateway.webhooks.results import ResultBoard
from tests.unit.webhooks.fakes import result_for


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_replay_guard_claims_once_until_expiry() -> None:
    """An id is claimed once; after its time to live it may be claimed again."""
    clock = Clock()
    guard = InProcessReplayGuard(clock)
    assert await guard.claim("msg-1", 10)
    assert not await guard.claim("msg-1", 10)
    assert await guard.claim("msg-2", 5)
    clock.now += 10
    assert await guard.claim("msg-1", 10)
    assert len(guard) == 1  # msg-2 expired and was dropped


async def test_replay_guard_release_lets_a_resend_through() -> None:
    """A released id (its command did not reach Kafka) can be claimed again at once."""
    guard = InProcessReplayGuard(Clock())
    assert await guard.claim("msg-1", 60)
    await guard.release("msg-1")
    assert await guard.claim("msg-1", 60)
    assert not await guard.claim("msg-1", 60)


def test_client_rate_allows_the_burst_then_says_when() -> None:
    """A client gets its burst, then a wait of one interval; other clients are unaffected."""
    clock = Clock()
    limiter = ClientRateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.admit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.admit("a") == 0.5
    assert limiter.admit("b") == 0.0
    clock.now += 0.5
    assert limiter.admit("a") == 0.0


def test_client_rate_forgets_the_least_recent_clients() -> None:
    """Past max_clients the oldest client is forgotten (and starts afresh)."""
    clock = Clock()
    limiter = ClientRateLimiter(rate=1.0, burst=1, max_clients=2, clock=clock)
    assert limiter.admit("a") == 0.0
    assert limiter.admit("a") > 0
    limiter.admit("b")
    limiter.admit("c")
    assert limiter.admit("a") == 0.0


def test_board_keeps_results_and_accepted_bounded() -> None:
    """Accepted, then the result; the oldest entries go past the capacity."""
    board = ResultBoard(capacity=2)
    board.accepted("c-1")
    status = board.lookup("c-1")
    assert status is not None
    assert status.status == "accepted"
    event = result_for(b'{"id":"c-1","type":"RoomCreate","payload":{}}')
    assert board.record(event)
    status = board.lookup("c-1")
    assert status is not None
    assert (status.status, status.result) == ("succeeded", event)
    board.accepted("c-1")  # a late "accepted" does not hide the result
    status = board.lookup("c-1")
    assert status is not None
    assert status.status == "succeeded"
    board.accepted("c-2")
    board.accepted("c-3")
    assert board.lookup("c-1") is None
    assert len(board) == 2


def test_board_ignores_events_without_a_command() -> None:
    """Events that are no result (no data, no command id, unknown status) are skipped."""
    board = ResultBoard()
    for event in (
        {},
        {"data": None},
        {"data": {"status": "succeeded"}},
        {"data": {"command_id": "x", "status": "odd"}},
    ):
        assert not board.record(event)
    assert len(board) == 0


async def test_board_wakes_every_waiter_and_cleans_up() -> None:
    """Two waiters on one id both get the event; none remain registered afterwards."""
    board = ResultBoard()
    event = result_for(b'{"id":"c-9","type":"RoomCreate","payload":{}}')
    with board.expect("c-9") as first, board.expect("c-9") as second:
        assert board.waiting == 2
        asyncio.get_running_loop().call_soon(board.record, event)
        assert await asyncio.wait_for(first, 1) == event
        assert await asyncio.wait_for(second, 1) == event
    assert board.waiting == 0
    with board.expect("c-10"):
        pass
    assert board.waiting == 0
