"""The commands role's Kafka loop: fetch, run per key, publish results with their offsets.

FastStream's subscriber processes one message at a time per partition (``max_workers`` keeps
partition order, not key order) and passes ``transactional_id`` through without transaction
support (faststream#2512), so this loop is written on aiokafka directly, in the manner of
Confluent's Parallel Consumer:

* records of different keys run concurrently (``KeyedScheduler``, bounded by
  ``max_in_flight``), records of one key in order;
* each partition's finished prefix is released by ``PartitionTracker``; the released results
  (and dead letters) are published *and* their offsets committed in one Kafka transaction, so
  a ``read_committed`` reader sees each result exactly once even across crashes (without
  transactions: publish, then commit). A flusher task commits as soon as something is released
  and no transaction is running; under load what is released while one runs goes into the
  next (group commit), and ``commit_interval`` (0 by default) can space transactions further;
* fetching pauses when too many records are buffered; one bad record never stalls a
  partition (it becomes a rejected result or a dead letter);
* on revocation, in-flight work of the lost partitions gets a short grace, what finished is
  committed, the rest is abandoned to the new owner (idempotency covers the overlap);
* on stop: fetching stops, in-flight work gets the grace period, the rest is abandoned,
  finished work is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from gateway import retry
from gateway.commands.handler import CommandHandler
from gateway.commands.keyed import KeyedScheduler
from gateway.commands.offsets import PartitionTracker
from gateway.commands.outbound import Outbound
from gateway.commands.record_outcome import RecordOutcomes, RecordTopics
from gateway.commands.stable_offsets import stable_committed
from gateway.errors import GatewayError
from gateway.settings import GatewaySettings
from gateway.telemetry.metrics import CONSUMER_LAG, DLQ, IN_FLIGHT

__all__ = ["CommandConsumer", "ConsumerConfig"]

log = logging.getLogger("gateway.commands")


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    """Plain values from settings (:meth:`from_settings`)."""

    commands_topic: str
    results_topic: str
    dlq_topic: str
    group_id: str
    max_in_flight: int
    max_buffered: int
    commit_interval_s: float
    transactional: bool
    grace_period_s: float
    revoke_grace_s: float
    result_prefix: str
    source: str
    processing_retry: retry.RetryPolicy  # then the record goes to the DLQ
    # Not a setting: how long a leaving owner waits for its last commit to be readable.
    stable_offsets_wait_s: float = 3.0
    # How long a new owner waits for a pending transaction with offsets of its partitions
    # (a dead owner's is aborted by the broker after the transaction timeout).
    stable_start_wait_s: float = 20.0

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ConsumerConfig:
        """The consumer's values from ``settings``."""
        kafka, cmd = settings.kafka, settings.commands
        return cls(
            commands_topic=kafka.commands_topic,
            results_topic=kafka.results_topic,
            dlq_topic=kafka.dlq_topic,
            group_id=kafka.consumer_group,
            max_in_flight=cmd.max_in_flight,
            max_buffered=cmd.max_buffered,
            commit_interval_s=cmd.commit_interval_ms / 1000,
            transactional=cmd.transactional,
            grace_period_s=cmd.grace_period_s,
            revoke_grace_s=cmd.revoke_grace_s,
            result_prefix=cmd.result_type_prefix,
            source=cmd.source,
            processing_retry=retry.processing_failures(cmd),
            stable_start_wait_s=cmd.transaction_timeout_ms / 1000 + 5.0,
        )


Item = tuple[TopicPartition, Any]  # (partition, aiokafka ConsumerRecord)
# `stable_offsets.stable_committed`'s shape (the unit tests pass their own).
StableFetch = Callable[..., Awaitable[dict[TopicPartition, int | None]]]
# The consumer's group generation, None when it cannot be read (the unit tests pass their own).
Generation = Callable[[Any], int | None]


class _MembershipLostError(KafkaError):  # type: ignore[misc]
    """The group may have given our partitions to another replica: do not commit."""


class HeartbeatWatch:
    """When the group coordinator last confirmed this member: the assignment, then every
    heartbeat it answered. aiokafka keeps that time to itself (and only marks the coordinator
    dead when a session expires), so its heartbeat call is wrapped to note each success."""

    def __init__(self, consumer: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer = consumer
        self._clock = clock
        self._last: float | None = None
        self._installed = False

    @property
    def session_s(self) -> float | None:
        """The consumer's session timeout (the broker drops a member this long unheard)."""
        ms = getattr(getattr(self._consumer, "_coordinator", None), "_session_timeout_ms", None)
        return ms / 1000 if isinstance(ms, int | float) else None

    def confirmed(self) -> None:
        """The group just assigned us partitions."""
        self._install()
        self._last = self._clock()

    def age(self) -> float | None:
        """Seconds since the coordinator last confirmed us; None when not watched."""
        if not self._installed or self._last is None:
            return None
        return self._clock() - self._last

    def _install(self) -> None:
        if self._installed:
            return
        coordinator = getattr(self._consumer, "_coordinator", None)
        beat = getattr(coordinator, "_do_heartbeat", None)
        if beat is None:
            return

        async def watched() -> Any:
            ok = await beat()
            if ok:
                self._last = self._clock()
            return ok

        coordinator._do_heartbeat = watched  # type: ignore[union-attr]
        self._installed = True


def group_generation(consumer: Any) -> int | None:
    """The generation of the group membership ``consumer`` holds: the one its last join got,
    -1 once the coordinator said it no longer knows the member (aiokafka resets it when a
    heartbeat is answered UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION); None if unreadable."""
    generation = getattr(getattr(consumer, "_coordinator", None), "generation", None)
    return generation if isinstance(generation, int) else None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, engine: CommandConsumer) -> None:
        self._engine = engine

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._engine.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._engine.assign(set(assigned))


class CommandConsumer:
    """Consumes commands and publishes one result (or dead letter) per record."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        handler: CommandHandler,
        config: ConsumerConfig,
        *,
        fetch_stable: StableFetch = stable_committed,
        generation: Generation = group_generation,
        heartbeats: HeartbeatWatch | None = None,
    ) -> None:
        self._consumer = consumer
        self._fetch_stable = fetch_stable
        self._generation_of = generation
        self._generation: int | None = None  # the membership our partitions were assigned in
        self._heartbeats = heartbeats or HeartbeatWatch(consumer)
        self._lost_logged = False  # the loss of membership was reported
        self._producer = producer
        self._config = config
        self._outcomes = RecordOutcomes(
            handler,
            RecordTopics(
                config.results_topic,
                config.dlq_topic,
                config.group_id,
                config.result_prefix,
                config.source,
            ),
        )
        self._trackers: dict[TopicPartition, PartitionTracker[Outbound]] = {}
        self._scheduler: KeyedScheduler[Item] = KeyedScheduler(self._process, config.max_in_flight)
        # Read when scraped (not two locked updates per command); the last consumer made in a
        # process is the one reported (one per process outside tests).
        scheduler = self._scheduler
        IN_FLIGHT.set_function(lambda: scheduler.in_flight)
        # Released but not yet published+committed (a failed transaction is tried again).
        self._unflushed: dict[TopicPartition, list[Outbound]] = {}
        self._unflushed_offsets: dict[TopicPartition, int] = {}
        self._paused = False
        self._flush_lock = asyncio.Lock()
        self._released = asyncio.Event()  # something finished since the last flush began
        self._flusher_stop = False
        self._committed: dict[TopicPartition, int] = {}
        self.stats = {"results": 0, "dead_letters": 0, "transactions": 0}

    # -- partitions ----------------------------------------------------------------------

    async def assign(self, partitions: set[TopicPartition]) -> None:
        """New partitions: start tracking them, at their stable committed offsets, never
        behind our own last commit."""
        self._generation = self._generation_of(self._consumer)
        self._heartbeats.confirmed()
        for tp in partitions:
            self._trackers.setdefault(tp, PartitionTracker())
        if self._config.transactional and partitions:
            await self._start_at_stable_offsets(partitions)
        for tp in partitions:
            await self._not_behind_own_commit(tp)
        log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    async def _start_at_stable_offsets(self, partitions: set[TopicPartition]) -> None:
        # The previous owner may have died with a committed transaction whose offsets are not
        # readable yet (its markers are still being written, e.g. by a restarting broker):
        # a plain fetch would return older offsets, and those commands' results would be
        # published again. Wait until the coordinator has none pending (KIP-447).
        try:
            offsets = await self._fetch_stable(
                self._consumer,
                self._config.group_id,
                partitions,
                wait_s=self._config.stable_start_wait_s,
            )
        except (GatewayError, KafkaError) as exc:
            log.warning("stable committed offsets not read (%s); using the plain fetch", exc)
            return
        for tp, offset in offsets.items():
            if offset is not None:
                self._consumer.seek(tp, offset)

    async def _not_behind_own_commit(self, tp: TopicPartition) -> None:
        # A partition revoked and handed straight back can be fetched from an offset older than
        # the transaction we just committed, when the stable fetch (`_start_at_stable_offsets`)
        # was not available. Starting there would publish those results a second time.
        own = self._committed.get(tp)
        if own is None:
            return
        try:
            fetched = await self._consumer.committed(tp)
        except KafkaError as exc:  # keep the group's default start
            log.warning("reading the committed offset of %s failed (%s)", tp, type(exc).__name__)
            return
        if fetched is None or fetched < own:
            log.info("starting %s at our own last commit %d (fetched %s)", tp, own, fetched)
            self._consumer.seek(tp, own)

    async def _until_offsets_stable(self, partitions: set[TopicPartition]) -> None:
        """Wait (bounded) until the group coordinator answers our last commits for ``partitions``.

        A committed transaction's offsets become visible to an OffsetFetch only once its
        markers are written, a moment after the commit returns. The next owner asks with
        ``require_stable`` (`stable_offsets`), but a broker without OffsetFetch v7 answers the
        older offset, and that owner would publish those results again. So the old owner also
        waits here, before it lets the rebalance go on (a second line of defence; a crashed
        owner cannot, and there only the new owner's stable fetch helps).
        """
        pending = {tp for tp in partitions if tp in self._committed}
        deadline = time.monotonic() + self._config.stable_offsets_wait_s
        while pending and time.monotonic() < deadline:
            try:
                for tp in list(pending):
                    fetched = await self._consumer.committed(tp)
                    if fetched is not None and fetched >= self._committed[tp]:
                        pending.discard(tp)
            except KafkaError as exc:
                log.warning("reading committed offsets failed (%s)", type(exc).__name__)
                return
            if pending:
                await asyncio.sleep(0.05)
        if pending:
            log.warning("committed offsets not visible yet for %s", sorted(map(str, pending)))

    async def revoke(self, partitions: set[TopicPartition]) -> None:
        """Lost partitions: short grace, commit what finished, abandon the rest."""

        def lost(key: Hashable) -> bool:
            return isinstance(key, tuple) and key[0] in partitions

        self._scheduler.drop_queued(lost)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._scheduler.wait(lost), self._config.revoke_grace_s)
        await self.flush()
        await self._scheduler.cancel(lost)
        await self._until_offsets_stable(partitions)
        for tp in partitions:
            self._trackers.pop(tp, None)
            # Not ours any more: the new owner redoes these (replaying stored outcomes).
            self._unflushed.pop(tp, None)
            self._unflushed_offsets.pop(tp, None)
        log.info("revoked %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then shut down gracefully."""
        self._consumer.subscribe([self._config.commands_topic], listener=_Rebalance(self))
        flusher = asyncio.create_task(self._flush_when_released(), name="results-flusher")
        try:
            while not stop.is_set():
                if flusher.done():
                    flusher.result()  # ProducerFenced: stop, never publish twice
                    raise RuntimeError("the results flusher ended")
                batch = await self._consumer.getmany(timeout_ms=100, max_records=500)
                for tp, records in batch.items():
                    tracker = self._trackers.get(tp)
                    if tracker is None:
                        continue  # revoked meanwhile; the new owner will read these
                    for record in records:
                        tracker.add(record.offset)
                        self._scheduler.submit(self._key_of(tp, record), (tp, record))
                self._backpressure()
        finally:
            self._flusher_stop = True
            self._released.set()
            with contextlib.suppress(Exception):
                await flusher
            await self._shutdown()

    async def _flush_when_released(self) -> None:
        """Publish and commit as soon as something is released and no transaction runs."""
        interval = self._config.commit_interval_s
        lag_reported = 0.0
        while True:
            await self._released.wait()
            if self._flusher_stop:
                return
            self._released.clear()
            started = time.monotonic()
            if not await self.flush():
                await asyncio.sleep(0.1)  # the broker refused: keep the batch, try again
                self._released.set()
            if started - lag_reported >= 1.0:
                self._report_lag()
                lag_reported = started
            if interval > 0:  # a configured cadence: at most one transaction per interval
                await asyncio.sleep(max(0.0, started + interval - time.monotonic()))

    def _report_lag(self) -> None:
        for tp in self._trackers:
            high = self._consumer.highwater(tp)
            committed = self._committed.get(tp)
            if high is not None and committed is not None:
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - committed))

    @staticmethod
    def _key_of(tp: TopicPartition, record: Any) -> Hashable:
        # Records without a key have no order to keep: each is its own key.
        return (tp, record.key if record.key is not None else ("offset", record.offset))

    def _backpressure(self) -> None:
        buffered = sum(len(t) for t in self._trackers.values())
        assigned = list(self._consumer.assignment())
        if not self._paused and buffered >= self._config.max_buffered:
            self._consumer.pause(*assigned)
            self._paused = True
        elif self._paused and buffered < self._config.max_buffered // 2:
            self._consumer.resume(*assigned)
            self._paused = False

    async def _shutdown(self) -> None:
        self._consumer.pause(*self._consumer.assignment())
        try:
            await asyncio.wait_for(self._scheduler.idle(), self._config.grace_period_s)
        except TimeoutError:
            log.warning("grace period over: abandoning in-flight commands to the next owner")
            await self._scheduler.cancel(lambda key: True)
        with contextlib.suppress(KafkaError):
            await self.flush()
            await self._until_offsets_stable(set(self._trackers))

    # -- one record ----------------------------------------------------------------------

    async def _process(self, item: Item) -> None:
        tp, record = item
        outbound = await self._outcome(tp, record)
        tracker = self._trackers.get(tp)
        if tracker is not None:
            tracker.finish(record.offset, outbound)
            self._released.set()

    async def _outcome(self, tp: TopicPartition, record: Any) -> list[Outbound]:
        """The record's result (or dead letter). Infrastructure trouble (store, broker) is
        tried again by ``processing_retry``, then the record is dead-lettered: nothing stalls
        a partition."""
        try:
            return await self._outcomes.outcome(tp, record)  # the usual case: no bookkeeping
        except RecursionError:
            return self._too_deep(tp, record)
        except Exception as exc:
            self._failed(tp, record, exc, 1)
            first = exc
        tries = 1

        async def again() -> list[Outbound]:
            nonlocal tries
            tries += 1
            try:
                return await self._outcomes.outcome(tp, record)
            except RecursionError:
                return self._too_deep(tp, record)
            except Exception as exc:
                self._failed(tp, record, exc, tries)
                raise

        try:
            return await self._config.processing_retry.resume(again, first, None)
        except Exception as exc:
            DLQ.labels(type(exc).__name__).inc()
            reason = f"processing failed {tries} times"
            return [self._outcomes.dead_letter(tp, record, reason, type(exc).__name__)]

    def _too_deep(self, tp: TopicPartition, record: Any) -> list[Outbound]:
        # The record itself (nesting too deep for some walk of it): trying again cannot help,
        # and would hold the partition's later results for a minute.
        DLQ.labels("RecursionError").inc()
        return [self._outcomes.dead_letter(tp, record, "record nested too deep", "RecursionError")]

    @staticmethod
    def _failed(tp: TopicPartition, record: Any, exc: Exception, attempt: int) -> None:
        # The error's own words too ("idempotency store full: ..."): the class alone does not
        # tell a full disk from a dropped connection.
        log.warning(
            "processing %s[%d]@%d failed (%s: %s), attempt %d",
            tp.topic,
            tp.partition,
            record.offset,
            type(exc).__name__,
            str(exc)[:300],
            attempt,
        )

    # -- publishing and committing -------------------------------------------------------

    async def flush(self) -> bool:
        """Publish every released result and commit its offset, atomically when transactional;
        False if the broker refused (the batch is kept for the next flush)."""
        async with self._flush_lock:
            for tp, tracker in self._trackers.items():
                drained = tracker.drain()
                self._unflushed.setdefault(tp, []).extend(drained.outbound)
                if drained.commit is not None:
                    self._unflushed_offsets[tp] = drained.commit
            if not self._unflushed_offsets:
                return True
            if self._config.transactional and self._membership_lost():
                return False  # kept until the revocation drops it for the new owner
            outbound = [o for records in self._unflushed.values() for o in records]
            offsets = dict(self._unflushed_offsets)
            try:
                if self._config.transactional:
                    await self._publish_in_transaction(outbound, offsets)
                else:
                    await self._publish_then_commit(outbound, offsets)
            except ProducerFenced:
                raise  # another instance took our transactional id: stop, never publish twice
            except KafkaError as exc:
                # Nothing was committed: keep the batch and try again on the next flush.
                log.warning(
                    "publishing %d records failed (%s); will retry",
                    len(outbound),
                    type(exc).__name__,
                )
                return False
            self._committed.update(offsets)
            self._unflushed.clear()
            self._unflushed_offsets.clear()
            self.stats["transactions"] += 1
            for o in outbound:
                key = "dead_letters" if o.topic == self._config.dlq_topic else "results"
                self.stats[key] += 1
            return True

    def _membership_lost(self) -> bool:
        """Whether the group may have dropped us since our partitions were assigned (a session
        that expired while the broker was unreachable): they may belong to another replica.

        Such a zombie must not commit: the transaction's offset commit (TxnOffsetCommit v0,
        all aiokafka sends) carries no generation for the broker to fence it with (KIP-447),
        so it would land after the new owner read the offsets and that owner would publish
        the same results again. Signs: the coordinator said it no longer knows us (aiokafka
        resets the generation), or no heartbeat was answered for half a session (the broker
        drops us after a whole one; the other half is the commit's time to land). The
        results stay unpublished until a heartbeat is answered again, or the revocation that
        comes with the rejoin drops them for the partitions' next owner, who redoes those
        commands (replaying their stored outcomes)."""
        reason = None
        current = self._generation_of(self._consumer)
        if self._generation is not None and current is not None and current != self._generation:
            reason = (
                f"the group no longer knows this member (generation {current}, "
                f"assigned in {self._generation})"
            )
        age, session = self._heartbeats.age(), self._heartbeats.session_s
        if reason is None and age is not None and session is not None and age > session / 2:
            reason = f"no heartbeat answered for {age:.1f} s (session {session:g} s)"
        if reason is None:
            self._lost_logged = False
            return False
        if not self._lost_logged:  # once, not on every retry of the flusher
            self._lost_logged = True
            log.warning(
                "not committing %d results: %s; held until the group confirms us, or left "
                "to the partitions' next owner",
                sum(len(o) for o in self._unflushed.values()),
                reason,
            )
        return True

    async def _publish_in_transaction(
        self, outbound: list[Outbound], offsets: dict[TopicPartition, int]
    ) -> None:
        async with self._producer.transaction():
            for o in outbound:
                await self._producer.send(o.topic, o.value, key=o.key, headers=o.headers)
            if self._membership_lost():  # again: the sends can take long on a bad link
                raise _MembershipLostError("the group may have reassigned these partitions")
            await self._producer.send_offsets_to_transaction(offsets, self._config.group_id)

    async def _publish_then_commit(
        self, outbound: list[Outbound], offsets: dict[TopicPartition, int]
    ) -> None:
        futures = [
            await self._producer.send(o.topic, o.value, key=o.key, headers=o.headers)
            for o in outbound
        ]
        await asyncio.gather(*futures)
        await self._consumer.commit(offsets)
