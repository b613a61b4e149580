"""The lease assignor: one owner, sticky while it lives; group timings from the failover bound;
the local expiry when the group coordinator stops answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from gateway.poller.leadership import KafkaLease, LeaseAssignor, _Listener, group_timeouts


class _Cluster:
    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0} if topic == "lease" else None


def _members(holding: dict[str, bool]) -> dict[str, Any]:
    return {
        member: ConsumerProtocolMemberMetadata(0, ["lease"], b"\x01" if held else b"\x00")
        for member, held in holding.items()
    }


def test_without_a_holder_the_lowest_member_id_gets_the_lease() -> None:
    """A fresh group: the partition goes to exactly one member, the lowest id."""
    assignment = LeaseAssignor().assign(_Cluster(), _members({"m-b": False, "m-a": False}))
    assert [tp.partition for tp in assignment["m-a"].partitions()] == [0]
    assert assignment["m-b"].partitions() == []


def test_the_holder_keeps_the_lease_when_others_join() -> None:
    """A member that says it holds the lease keeps it, whatever its id."""
    assignment = LeaseAssignor().assign(_Cluster(), _members({"m-a": False, "m-z": True}))
    assert assignment["m-a"].partitions() == []
    assert len(assignment["m-z"].partitions()) == 1


def test_the_assignor_remembers_what_it_got() -> None:
    """on_assignment sets what the next join's metadata claims."""
    assignor = LeaseAssignor()
    got = assignor.assign(_Cluster(), _members({"me": False}))["me"]
    assignor.on_assignment(got)
    assert assignor.metadata(["lease"]).user_data == b"\x01"
    assignor.on_assignment(
        LeaseAssignor().assign(_Cluster(), _members({"a": False, "me": False}))["me"]
    )
    assert assignor.metadata(["lease"]).user_data == b"\x00"


def test_group_timeouts_detect_a_dead_leader_within_half_the_bound() -> None:
    """Session timeout F/2, heartbeats well inside it."""
    timings = group_timeouts(30.0)
    assert timings["session_timeout_ms"] == 15000
    assert timings["heartbeat_interval_ms"] * 3 < timings["session_timeout_ms"]


@pytest.mark.parametrize(
    ("member_id", "claims_after"),
    [("gw-a-1234", True), ("", False)],
)
async def test_a_member_the_group_dropped_rejoins_without_claiming_the_lease(
    member_id: str, claims_after: bool
) -> None:
    """A rebalance keeps the holder's claim; after its session expired (cut off from Kafka:
    aiokafka forgot its member id, now ""), its rejoin must not take the lease back from the member
    that holds it by now."""
    consumer = SimpleNamespace(_coordinator=SimpleNamespace(member_id=member_id))
    lease = KafkaLease(lambda **_: consumer, topic="lease", group_id="g", failover_s=12.0)
    got = lease.assignor.assign(_Cluster(), _members({"me": False}))["me"]
    lease.assignor.on_assignment(got)
    listener = _Listener(lease)
    await listener.on_partitions_assigned([TopicPartition("lease", 0)])
    assert lease.held
    await listener.on_partitions_revoked([TopicPartition("lease", 0)])
    assert not lease.held
    assert (lease.assignor.metadata(["lease"]).user_data == b"\x01") is claims_after


# Local expiry: failover 12 s -> session timeout 6 s.
SESSION_S = 6.0
LEASE = TopicPartition("lease", 0)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Coordinator:
    """aiokafka's GroupCoordinator as far as the lease touches it."""

    def __init__(self, clock: _Clock) -> None:
        self.member_id = "gw-a-1234"
        self.clock = clock
        self.answers: list[bool] = []
        self.rtt_s = 0.0  # how long the answer takes (the clock moves on meanwhile)

    async def _do_heartbeat(self) -> bool:
        self.clock.now += self.rtt_s
        return self.answers.pop(0) if self.answers else True


def _tracked_lease(clock: _Clock) -> tuple[KafkaLease, _Coordinator]:
    coordinator = _Coordinator(clock)
    consumer = SimpleNamespace(_coordinator=coordinator)
    lease = KafkaLease(
        lambda **_: consumer, topic="lease", group_id="g", failover_s=12.0, clock=clock
    )
    assert lease._track_heartbeats()
    return lease, coordinator


async def _woken(lease: KafkaLease) -> bool:
    """Whether wait_changed returns at once (the loop waits on it with no timeout)."""
    try:
        await asyncio.wait_for(lease.wait_changed(), 0.05)
    except TimeoutError:
        return False
    return True


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def test_the_lease_lapses_without_answers_and_returns_with_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No heartbeat answer for the session timeout: not held (the broker expires the session
    then), logged once, the loop woken; an answer while still assigned brings it back."""
    caplog.set_level(logging.INFO, "gateway.poller")
    clock = _Clock()
    lease, coordinator = _tracked_lease(clock)
    await _Listener(lease).on_partitions_assigned([LEASE])  # contact at 100
    assert lease.held
    await _woken(lease)
    clock.now = 101.0
    assert await coordinator._do_heartbeat()  # sent at 101: the deadline is 107
    clock.now = 106.9
    assert lease._check_contact() == pytest.approx(0.1)  # when to look again
    assert lease.held
    assert not await _woken(lease)

    clock.now = 107.0
    assert not lease.held  # the publish path sees it even before the check runs
    lease._check_contact()
    assert await _woken(lease)
    warnings = _messages(caplog, logging.WARNING)
    assert warnings == [
        "poller lease lapsed: no answer from the group coordinator for 6 s;"
        " polling stops until it answers"
    ]
    coordinator.answers = [False]  # a failed heartbeat is no contact
    assert not await coordinator._do_heartbeat()
    lease._check_contact()
    assert not lease.held
    assert not await _woken(lease)
    assert len(_messages(caplog, logging.WARNING)) == 1

    clock.now = 130.0
    assert await coordinator._do_heartbeat()
    assert lease.held
    assert await _woken(lease)
    assert any("answers again" in m for m in _messages(caplog, logging.INFO))
    assert lease.terms == 1  # the same term's lease, not a new one


async def test_contact_counts_from_when_the_heartbeat_was_sent() -> None:
    """The broker received the heartbeat after it was sent, so its session outlives a
    deadline counted from the send: we give up no later than it expires us."""
    clock = _Clock()
    lease, coordinator = _tracked_lease(clock)
    await _Listener(lease).on_partitions_assigned([LEASE])
    clock.now = 101.0
    coordinator.rtt_s = 5.5  # answered at 106.5
    assert await coordinator._do_heartbeat()
    clock.now = 107.0
    assert not lease.held


async def test_a_followers_silence_is_not_logged_and_an_assignment_is_contact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the lease a lapse changes nothing for the loop; a completed assignment is
    an answer from the coordinator, so the new leader holds the lease at once."""
    clock = _Clock()
    lease, _ = _tracked_lease(clock)
    clock.now = 200.0
    lease._check_contact()
    assert not _messages(caplog, logging.WARNING)
    assert not await _woken(lease)
    await _Listener(lease).on_partitions_assigned([LEASE])
    assert lease.held
    assert not _messages(caplog, logging.WARNING)


async def test_a_lapsed_leader_the_group_dropped_rejoins_without_claiming(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Lapsed locally, then the link returns: the broker expired the session, so the
    heartbeat fails (aiokafka forgets the member id) and the rejoin must not claim."""
    caplog.set_level(logging.INFO, "gateway.poller")
    clock = _Clock()
    lease, coordinator = _tracked_lease(clock)
    lease.assignor.holding = True
    listener = _Listener(lease)
    await listener.on_partitions_assigned([LEASE])
    clock.now = 110.0
    lease._check_contact()
    assert not lease.held
    coordinator.answers = [False]
    coordinator.member_id = ""  # UnknownMemberId: reset_generation
    assert not await coordinator._do_heartbeat()
    await listener.on_partitions_revoked([LEASE])
    assert not lease.held
    assert lease.assignor.metadata(["lease"]).user_data == b"\x00"
    assert not any("answers again" in m for m in _messages(caplog, logging.INFO))


async def test_without_the_heartbeat_internals_the_lease_has_no_local_expiry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another aiokafka without ``_coordinator._do_heartbeat``: a WARNING, and the group's
    word alone (fencing still keeps the output single-writer)."""
    clock = _Clock()
    consumer = SimpleNamespace(_coordinator=SimpleNamespace(member_id="m"))
    lease = KafkaLease(
        lambda **_: consumer, topic="lease", group_id="g", failover_s=12.0, clock=clock
    )
    assert not lease._track_heartbeats()
    warnings = _messages(caplog, logging.WARNING)
    assert any("cannot observe the group heartbeats" in m for m in warnings)
    await _Listener(lease).on_partitions_assigned([LEASE])
    clock.now = 1000.0
    lease._check_contact()
    assert lease.held


class _Consumer:
    """Just enough of AIOKafkaConsumer for KafkaLease.run: the group assigns the lease."""

    def __init__(self, make_coordinator: Callable[[], Any]) -> None:
        self._make_coordinator = make_coordinator
        self.stopped = False

    async def start(self) -> None:
        self._coordinator = self._make_coordinator()  # aiokafka creates it in start()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        asyncio.get_running_loop().create_task(listener.on_partitions_assigned([LEASE]))

    async def getmany(self, timeout_ms: int) -> dict[Any, Any]:
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    async def stop(self) -> None:
        self.stopped = True


async def test_run_notices_the_lapse_on_time_and_wakes_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the real clock and loop: no heartbeat answers after the assignment, so the lease
    lapses one session timeout later (failover 2 s: session 1 s) and wait_changed returns."""
    consumer = _Consumer(lambda: _Coordinator(_Clock()))
    lease = KafkaLease(lambda **_: consumer, topic="lease", group_id="g", failover_s=2.0)
    stop = asyncio.Event()
    task = asyncio.create_task(lease.run(stop))
    try:
        while not lease.held:
            await lease.wait_changed(1.0)
        assigned = asyncio.get_running_loop().time()
        await asyncio.wait_for(lease.wait_changed(), 3.0)
        assert not lease.held
        assert 0.9 <= asyncio.get_running_loop().time() - assigned <= 1.5
        assert any("lapsed" in m for m in _messages(caplog, logging.WARNING))
        # The coordinator's heartbeat routine calls the wrapped method: an answer counts.
        assert await consumer._coordinator._do_heartbeat()
        assert lease.held
    finally:
        stop.set()
        await asyncio.wait_for(task, 2.0)
    assert consumer.stopped
    assert not lease.held
    assert lease._watch is None
