"""The lease assignor: one owner, sticky while it lives; group timings from the failover bound."""

from __future__ import annotations

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
