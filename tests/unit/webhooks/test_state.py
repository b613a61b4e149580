"""The ingress's in-memory state: replay guard, per-client rate, results board."""

from __future__ import annotations

import asyncio

from gateway.settings import WebhookSettings
from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.replay import InProcessReplayGuard
from gateway.webhooks.results import ResultBoard
from tests.unit.webhooks.fakes import result_for

DEFAULTS = WebhookSettings()


def new_board(
    capacity: int = DEFAULTS.results_index_size, max_waiters: int = DEFAULTS.max_waiters
) -> ResultBoard:
    """A results board sized as the settings say unless told otherwise."""
    return ResultBoard(capacity, max_waiters)


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
    """Reserved (accepted), then the result; the oldest entries go past the capacity."""
    board = new_board(capacity=2)
    board.reserve("a", "c-1")
    status = board.lookup("a", "c-1")
    assert status is not None
    assert status.status == "accepted"
    event = result_for(b'{"id":"c-1","type":"RoomCreate","payload":{}}')
    assert board.record(event)
    status = board.lookup("a", "c-1")
    assert status is not None
    assert (status.status, status.result) == ("succeeded", event)
    board.reserve("a", "c-1")  # a resend by the same sender keeps the result
    status = board.lookup("a", "c-1")
    assert status is not None
    assert status.status == "succeeded"
    board.reserve("a", "c-2")
    board.reserve("a", "c-3")
    assert board.lookup("a", "c-1") is None
    assert len(board) == 2


def test_board_files_results_by_sender() -> None:
    """Two senders' commands with one id are two entries; a result is filed under its event's
    sender (also one this replica did not accept: another replica's, or before a restart);
    a result without a sender is not kept."""
    board = new_board()
    board.reserve("a", "c-1")
    assert board.lookup("b", "c-1") is None
    board.reserve("b", "c-1")
    value = b'{"id":"c-1","type":"RoomList","payload":{}}'
    assert board.record(result_for(value, "failed", sender="b"))
    a_status, b_status = board.lookup("a", "c-1"), board.lookup("b", "c-1")
    assert a_status is not None
    assert b_status is not None
    assert (a_status.status, b_status.status) == ("accepted", "failed")
    assert not board.record(result_for(b'{"id":"x","type":"RoomList"}', sender=None))
    assert board.lookup("a", "x") is None
    assert board.record(result_for(b'{"id":"y","type":"RoomList"}', sender="c"))
    y_status = board.lookup("c", "y")
    assert y_status is not None
    assert y_status.status == "succeeded"
    assert board.lookup("a", "y") is None
    assert board.results_seen == 3


def test_board_ignores_events_without_a_command() -> None:
    """Events that are no result (no data, no command id, unknown status) are skipped."""
    board = new_board()
    for event in (
        {},
        {"data": None},
        {"data": {"status": "succeeded"}},
        {"data": {"command_id": "x", "status": "odd"}},
    ):
        assert not board.record(event)
    assert len(board) == 0


async def test_board_wakes_every_waiter_and_cleans_up() -> None:
    """Two waiters on one id both get the event; none remain registered afterwards; the cap
    on waiters is reported by may_wait."""
    board = new_board(max_waiters=2)
    event = result_for(b'{"id":"c-9","type":"RoomCreate","payload":{}}')
    board.reserve("a", "c-9")
    with board.expect("a", "c-9") as first, board.expect("a", "c-9") as second:
        assert board.waiting == 2
        assert not board.may_wait()
        asyncio.get_running_loop().call_soon(board.record, event)
        assert await asyncio.wait_for(first, 1) == event
        assert await asyncio.wait_for(second, 1) == event
    assert board.waiting == 0
    assert board.may_wait()
    board.reserve("a", "c-10")
    with board.expect("a", "c-10"):
        pass
    assert board.waiting == 0


async def test_a_waiting_command_outlives_the_capacity() -> None:
    """A command someone waits for is found by its result even when the LRU dropped it."""
    board = new_board(capacity=1)
    event = result_for(b'{"id":"w","type":"RoomCreate","payload":{}}')
    board.reserve("a", "w")
    with board.expect("a", "w") as waiter:
        board.reserve("a", "other")
        assert board.record(event)
        assert await asyncio.wait_for(waiter, 1) == event
