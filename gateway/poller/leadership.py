"""One active poller across replicas: a Kafka consumer group over a one-partition lease topic.

Every replica running the poller role joins the consumer group ``lease_group`` on the lease
topic (one partition, nothing is ever written to it); the member assigned partition 0 is the
leader and polls. When it dies, the group coordinator notices after the session timeout, the
group rebalances and another member gets the partition. A replica that stops cleanly leaves
the group, so the hand-over is immediate.

Why Kafka and not a Redis lease: Kafka is always there (the gateway is a Kafka service;
Redis is optional, needed only to share idempotency and rate limits), failure detection and
hand-over come with the group protocol instead of hand-written renewal loops, and the
*fencing* a lease needs comes with it too. The leader publishes events and its snapshot with a
transactional producer whose ``transactional.id`` is the same on every replica: a new leader's
producer start (InitProducerId) bumps the epoch, which aborts the old leader's open
transaction and makes every later write of it fail with ``ProducerFenced``. So even a leader
that does not know yet that it lost the lease (paused, partitioned) cannot publish after the
new one started: leadership is advisory, fencing is what keeps the output single-writer.

Timing: with ``failover_s`` = F the session timeout is F/2 and heartbeats go every F/12, so a
dead leader is detected within F/2 and the survivor hears of the rebalance within another
heartbeat; the rest of F covers the new leader's producer start and snapshot load. (Brokers
refuse session timeouts below ``group.min.session.timeout.ms``, 6 s by default: F >= 12 s.)

The assignor is sticky: a member that holds the lease says so in its join metadata and keeps
it through rebalances (a replica joining does not move the poller; the leader only pauses for
the rebalance and reloads its snapshot); otherwise the member with the lowest id gets it.
A member the group dropped (its session expired: it was cut off from Kafka, or paused)
rejoins as a newcomer, not as the holder: by then another member holds the lease, and
claiming it back would move the poller again and fence the live leader's producer.

Local expiry: the group only takes the partition away from a member it can talk to. A leader
cut off from Kafka (the vendor still reachable) is never revoked locally: aiokafka's heartbeat
on a blackholed connection fails only after ``request_timeout_ms`` (40 s), and until then the
leader would keep polling the vendor, spending the shared rate budget for nothing (its output
is fenced). So the lease also lapses locally: it counts as held only while the coordinator
answered within the session timeout, measured from when the last successful heartbeat was
*sent* (the broker received it after that, so its session outlives our deadline: we give up
no later than the broker expires us, before another member can be assigned). A completed
assignment counts as contact too. The heartbeat is observed by wrapping the coordinator's
private ``_do_heartbeat`` on the instance; without it (another aiokafka) a WARNING says the
lease has no local expiry and fencing alone keeps the output single-writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

__all__ = ["KafkaLease", "LeaseAssignor", "group_timeouts"]

log = logging.getLogger("gateway.poller")

_UNKNOWN = ""  # aiokafka's JoinGroupRequest.UNKNOWN_MEMBER_ID: no member id (yet, or any more)
_HOLDING = b"\x01"
_NOT_HOLDING = b"\x00"


def group_timeouts(failover_s: float) -> dict[str, int]:
    """Consumer-group timings (ms) that detect a dead leader within ``failover_s / 2``."""
    session_ms = max(1000, int(failover_s * 1000 / 2))
    return {
        "session_timeout_ms": session_ms,
        "heartbeat_interval_ms": max(100, session_ms // 6),
        # A rebalance waits this long for members to rejoin; a live member rejoins at once.
        "rebalance_timeout_ms": session_ms,
    }


class LeaseAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
    """Everything to one member: the current holder if any claims it, else the lowest id."""

    name = "gateway-lease"
    version = 0

    def __init__(self) -> None:
        self.holding = False

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        """The subscription, and whether this member holds the lease now."""
        return ConsumerProtocolMemberMetadata(
            self.version, sorted(topics), _HOLDING if self.holding else _NOT_HOLDING
        )

    def assign(
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        """Run by the group's leader member: one owner for every partition."""
        holders = sorted(m for m, meta in members.items() if meta.user_data == _HOLDING)
        owner = holders[0] if holders else min(members)
        topics = sorted({t for meta in members.values() for t in meta.subscription})
        owned = []
        for topic in topics:
            partitions = cluster.partitions_for_topic(topic)
            if partitions:
                owned.append((topic, sorted(partitions)))
        return {
            member: ConsumerProtocolMemberAssignment(
                self.version, owned if member == owner else [], b""
            )
            for member in members
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        """Remember whether we got it, for the next join's metadata."""
        self.holding = bool(assignment.partitions())


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, lease: KafkaLease) -> None:
        self._lease = lease

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        if self._lease.expelled():
            # Dropped by the group: the next join must not claim the lease (module docstring).
            self._lease.assignor.holding = False
        self._lease._set_held(False)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        # The coordinator just answered the join (SyncGroup): that is contact.
        self._lease._contact(self._lease._clock())
        self._lease._set_held(self._lease.partition in set(assigned))


class KafkaLease:
    """Membership in the lease group; :attr:`held` says whether this replica is the leader.

    ``make_consumer(**options)`` builds the group consumer (the app adds bootstrap, security
    and client id); call :meth:`run` in a task for as long as the replica takes part.
    """

    def __init__(
        self,
        make_consumer: Callable[..., AIOKafkaConsumer],
        *,
        topic: str,
        group_id: str,
        failover_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.partition = TopicPartition(topic, 0)
        self.assignor = LeaseAssignor()
        timeouts = group_timeouts(failover_s)
        self._consumer = make_consumer(
            group_id=group_id,
            partition_assignment_strategy=(self.assignor,),
            **timeouts,
        )
        self._held = False  # what the group's last assignment or revocation said
        self._changed = asyncio.Event()
        self.terms = 0  # how many times this replica became leader
        # Local expiry (module docstring). None: contact is not tracked (no local expiry).
        self._clock = clock
        self._session_s = timeouts["session_timeout_ms"] / 1000
        self._last_contact: float | None = None
        self._lapsed = False  # as last noticed (logged, waiters woken) by _check_contact
        self._watch: asyncio.TimerHandle | None = None  # the next _check_contact

    @property
    def held(self) -> bool:
        """True while this replica holds the lease (is the leader): the group assigned it
        and the coordinator answered within the session timeout."""
        return self._held and not self._silent_too_long()

    def _silent_too_long(self) -> bool:
        last = self._last_contact
        return last is not None and self._clock() - last >= self._session_s

    def _contact(self, at: float) -> None:
        """The coordinator answered a request sent at ``at``."""
        if self._last_contact is None:
            return  # not tracked (_track_heartbeats): no local expiry
        self._last_contact = max(self._last_contact, at)
        self._check_contact()

    def _check_contact(self) -> float:
        """Notice the lease lapsing locally or coming back: log it and wake the loop (the
        ``held`` property already reads the clock itself). Returns the seconds until the
        next lapse is possible, when to check again."""
        last = self._last_contact
        if last is None:
            return self._session_s
        silent = self._clock() - last
        lapsed = silent >= self._session_s
        if lapsed != self._lapsed:
            self._lapsed = lapsed
            if self._held:  # a follower's silence changes nothing for the loop
                if lapsed:
                    log.warning(
                        "poller lease lapsed: no answer from the group coordinator for %.0f s;"
                        " polling stops until it answers",
                        silent,
                    )
                else:
                    log.info(
                        "poller lease: the group coordinator answers again and the lease is"
                        " still assigned to this replica; polling resumes"
                    )
                self._changed.set()
        # Contact only moves the deadline later: checking again after this never misses it.
        return self._session_s - silent if not lapsed else self._session_s

    def _watch_contact(self) -> asyncio.TimerHandle:
        """Check again when the lease would lapse: no heartbeat answer comes to notice it."""
        return asyncio.get_running_loop().call_later(self._check_contact(), self._rewatch)

    def _rewatch(self) -> None:
        self._watch = self._watch_contact()

    def _track_heartbeats(self) -> bool:
        """Record every successful heartbeat's send time as contact; False if aiokafka has
        no ``_coordinator._do_heartbeat`` to wrap (no group, or another version)."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        do_heartbeat: Callable[[], Awaitable[bool]] | None = getattr(
            coordinator, "_do_heartbeat", None
        )
        if coordinator is None or do_heartbeat is None:
            log.warning(
                "poller lease: cannot observe the group heartbeats (aiokafka internals"
                " changed); the lease does not lapse locally when Kafka is unreachable,"
                " only fencing stops a cut-off leader"
            )
            return False

        async def heartbeat() -> bool:
            sent = self._clock()
            ok = await do_heartbeat()
            if ok:  # True also while the group rebalances: the member is still in it
                self._contact(sent)
            return ok

        # An instance attribute shadows the method: _heartbeat_routine calls this one.
        coordinator._do_heartbeat = heartbeat
        self._last_contact = self._clock()  # start the clock (a follower's lapse is silent)
        return True

    def expelled(self) -> bool:
        """Whether the group no longer knows this member: aiokafka forgets its member id when
        a heartbeat or join learns that its session expired (or its generation is stale)."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        return coordinator is not None and getattr(coordinator, "member_id", None) == _UNKNOWN

    def _set_held(self, held: bool) -> None:
        if held and not self._held:
            self.terms += 1
            log.info("poller lease acquired (term %d)", self.terms)
        elif self._held and not held:
            log.info("poller lease released")
        self._held = held
        self._changed.set()

    async def wait_changed(self, within: float | None = None) -> None:
        """Until :attr:`held` may have changed (or ``within`` seconds passed)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)
        self._changed.clear()

    async def run(self, stop: asyncio.Event) -> None:
        """Take part in the group until ``stop``; leaving the group hands the lease over."""
        await self._consumer.start()
        if self._track_heartbeats():
            self._watch = self._watch_contact()
        try:
            self._consumer.subscribe([self.partition.topic], listener=_Listener(self))
            while not stop.is_set():
                try:
                    # Nothing is written to the lease topic; fetching keeps the membership
                    # alive (max.poll.interval) while the heartbeats run in the background.
                    await self._consumer.getmany(timeout_ms=500)
                except KafkaError as exc:
                    log.warning("poller lease: %r; still trying", exc)
                    await asyncio.sleep(0.5)
        finally:
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            self._set_held(False)
            await self._consumer.stop()
