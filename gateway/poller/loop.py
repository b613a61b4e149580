"""The poller loop: while this replica holds the lease, observe, diff, publish, repeat.

A *term* starts when the replica becomes leader: it starts the transactional producer (which
fences the previous leader, see `gateway.poller.leadership`), loads the snapshot
(`gateway.poller.state_store`) and runs cycles until the lease is lost, the producer is
fenced, or ``stop`` is set. A cycle reads what is due (`gateway.poller.observe`), diffs it
against the snapshot (`gateway.poller.diff`) and publishes the change events and the changed
snapshot records in one Kafka transaction; only after the commit does the in-memory snapshot
move on, so a failed publish is retried by the next cycle from the same snapshot.

Every vendor account has its own cycles (its own observer, rate-limit lane and schedule), in
a task of its own: one account's outage or slow vendor never delays another's cycle. They
share the term's one transactional producer (one active poller, one fencing id), taking
turns for the few milliseconds a transaction takes.

An account's cycles run one after another: a slow or failing cycle delays the next, never
stacks on it. A failing cycle is logged and the loop continues (a poller that stops on one
bad cycle watches nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerFenced

from gateway.errors import GatewayError
from gateway.messages.changes import change_event, change_event_bytes
from gateway.messages.headers import CONTENT_TYPE
from gateway.poller.diff import Diff, Observation, diff
from gateway.poller.model import PollerState
from gateway.poller.observe import CycleStats, Observer
from gateway.poller.schedule import Cadence, Kind, Schedule
from gateway.poller.state_store import (
    DEFAULT_ACCOUNT,
    KafkaStateStore,
    Snapshot,
    StateLoadError,
    encode_records,
    encode_state,
)
from gateway.telemetry.metrics import POLLER_CYCLE, POLLER_EVENTS
from gateway.telemetry.tracing import span

T = TypeVar("T")

__all__ = ["AccountPolling", "Lease", "LeaseLostError", "Poller", "PollerConfig", "PollerStats"]

log = logging.getLogger("gateway.poller")


class Lease(Protocol):
    """Leadership as the loop needs it (`gateway.poller.leadership.KafkaLease` fits)."""

    @property
    def held(self) -> bool:
        """True while this replica is the leader."""
        ...

    async def wait_changed(self, within: float | None = None) -> None:
        """Until ``held`` may have changed, or ``within`` seconds passed."""
        ...


class LeaseLostError(GatewayError):
    """The lease went away during a cycle: its transaction is aborted."""


@dataclass(frozen=True, slots=True)
class PollerConfig:
    """Topics, CloudEvents attributes and cadences (plain values, from the app)."""

    events_topic: str
    type_prefix: str = "avd"
    source: str = "/vendor-gateway/poller"
    cadences: Mapping[Kind, Cadence] = field(
        default_factory=lambda: {
            Kind.PARTICIPANTS: Cadence(5.0),
            Kind.STATISTICS: Cadence(60.0),
            Kind.MEDIA_SERVERS: Cadence(15.0),
        }
    )
    retry_backoff_s: float = 1.0
    # After being fenced while still believing to hold the lease, wait this long for the
    # group to tell us (about a session timeout), instead of fencing the new leader back.
    fenced_backoff_s: float = 15.0


@dataclass(frozen=True, slots=True)
class AccountPolling:
    """One vendor account's reads: its observer (its client, so its rate-limit lane) and its
    cadences (None: the config's)."""

    observer: Observer
    cadences: Mapping[Kind, Cadence] | None = None


@dataclass(slots=True)
class PollerStats:
    """Counters for logs, tests and the benchmark."""

    terms: int = 0
    cycles: int = 0
    failed_cycles: int = 0
    events: int = 0
    removed_rooms: int = 0
    last_cycle: CycleStats | None = None
    snapshot_records: int = 0  # records read by the last term's load
    snapshot_load_s: float = 0.0  # and how long it took


class Poller:
    """Runs terms while the lease is held; see the module docstring."""

    def __init__(
        self,
        config: PollerConfig,
        lease: Lease,
        accounts: Mapping[str, AccountPolling],
        store: KafkaStateStore,
        make_producer: Callable[[], AIOKafkaProducer],
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not accounts:
            raise ValueError("the poller needs at least one account")
        self._config = config
        self._lease = lease
        self._accounts = dict(accounts)
        self._store = store
        self._make_producer = make_producer
        self._rng = rng or random.Random()  # noqa: S311  (jitter only)
        # One transaction at a time on the term's producer.
        self._publishing = asyncio.Lock()
        # Per account: keys of the previous state format to delete when its state is rewritten.
        self._rewrite: dict[str, set[bytes]] = {}
        self.stats = PollerStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll whenever this replica is the leader, until ``stop``."""
        while not stop.is_set():
            if not self._lease.held:
                await self._wait(stop, None)
                continue
            try:
                await self._term(stop)
            except ProducerFenced:
                log.warning("poller: another replica took over (producer fenced)")
                await self._wait(stop, self._config.fenced_backoff_s)
            except (KafkaError, OSError, StateLoadError) as exc:
                log.warning("poller term ended: %r; starting over", exc)
                await self._wait(stop, self._config.retry_backoff_s)

    async def _wait(self, stop: asyncio.Event, within: float | None) -> None:
        """Until ``stop``, a lease change, or ``within`` seconds."""
        stopped = asyncio.ensure_future(stop.wait())
        changed = asyncio.ensure_future(self._lease.wait_changed(within))
        try:
            await asyncio.wait({stopped, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopped, changed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _term(self, stop: asyncio.Event) -> None:
        producer = self._make_producer()
        try:
            await producer.start()  # InitProducerId: fences the previous leader's producer
            self.stats.terms += 1
            started = time.perf_counter()
            # Loading can take a while (state_load_timeout_s): a SIGTERM must not wait for it.
            snapshot = await _unless_stopped(self._store.load(), stop)
            if snapshot is None:
                return
            self.stats.snapshot_records = snapshot.records
            self.stats.snapshot_load_s = time.perf_counter() - started
            if snapshot.legacy_keys:
                self._rewrite[DEFAULT_ACCOUNT] = set(snapshot.legacy_keys)
            log.info(
                "poller term %d: polling accounts %s", self.stats.terms, ", ".join(self._accounts)
            )
            await self._run_accounts(producer, snapshot, stop)
        finally:
            await producer.stop()

    async def _run_accounts(
        self, producer: AIOKafkaProducer, snapshot: Snapshot, stop: asyncio.Event
    ) -> None:
        """Each account's cycles in a task of its own, until the term ends: ``stop``, the lease
        lost, or an account's task failing (a Kafka error: the term starts over)."""
        term_over = asyncio.Event()
        tasks = [
            asyncio.create_task(
                self._account_cycles(name, polling, producer, snapshot.of(name), term_over),
                name=f"poller-{name}",
            )
            for name, polling in self._accounts.items()
        ]

        async def watch() -> None:
            while not stop.is_set() and self._lease.held:
                await self._wait(stop, 1.0)

        watcher = asyncio.create_task(watch(), name="poller-term")
        try:
            await asyncio.wait({watcher, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            term_over.set()
            for task in (watcher, *tasks):
                task.cancel()
            results = await asyncio.gather(watcher, *tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result

    async def _account_cycles(
        self,
        account: str,
        polling: AccountPolling,
        producer: AIOKafkaProducer,
        state: PollerState,
        term_over: asyncio.Event,
    ) -> None:
        schedule = Schedule(polling.cadences or self._config.cadences, self._rng)
        while not term_over.is_set():
            started = time.monotonic()
            due = schedule.due(started)
            if due:
                state = await self.cycle(producer, state, due, account=account)
                schedule.done(due, time.monotonic(), started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    term_over.wait(), max(0.0, schedule.next_due() - time.monotonic())
                )

    async def cycle(
        self,
        producer: AIOKafkaProducer,
        state: PollerState,
        due: set[Kind],
        *,
        account: str = DEFAULT_ACCOUNT,
    ) -> PollerState:
        """One cycle of ``account`` (the benchmark calls it directly): read what is ``due``,
        diff, publish in one transaction of ``producer``; returns the snapshot after it (the
        same one when the cycle failed)."""
        self.stats.cycles += 1
        kinds = ",".join(sorted(k.value for k in due))
        started = time.perf_counter()
        attributes = {"poller.kinds": kinds, "poller.account": account}
        with span("poller cycle", attributes=attributes):
            after = await self._cycle(producer, state, due, account)
        POLLER_CYCLE.labels(kinds).observe(time.perf_counter() - started)
        return after

    async def _cycle(
        self, producer: AIOKafkaProducer, state: PollerState, due: set[Kind], account: str
    ) -> PollerState:
        current = state
        events = 0

        async def publish(observation: Observation) -> PollerState:
            """Diff and publish one part of the cycle; the state moves on after the commit."""
            nonlocal current, events
            result = diff(current, observation, account)
            rewrite = self._rewrite.get(account)
            if rewrite is not None:
                records = encode_state(result.state, account, delete=rewrite)
            else:
                records = encode_records(result, account)
            if result.changes or records:
                await self._publish(producer, result, records)
            self._rewrite.pop(account, None)
            current = result.state
            events += len(result.changes)
            self.stats.events += len(result.changes)
            self.stats.removed_rooms += len(result.removed_rooms)
            for change in result.changes:
                POLLER_EVENTS.labels(change.name).inc()
            return current

        observer = self._accounts[account].observer
        try:
            # The first part (room list, urgent reads) is published from inside observe.
            second, reads = await observer.observe(due, state, publish)
            self.stats.last_cycle = reads
            await publish(second)
        except KafkaError:
            raise  # the producer may be unusable: end the term, start a fresh one
        except LeaseLostError:
            log.info("poller: lease lost during a cycle; its transaction was aborted")
            return current
        except Exception:
            self.stats.failed_cycles += 1
            log.exception(
                "poller cycle of account %s failed; the next one starts from the same snapshot",
                account,
            )
            return current
        if events or reads.failed:
            log.info(
                "poller cycle of account %s: %d events, %d vendor calls, %d reads deferred,"
                " failed reads %s",
                account,
                events,
                reads.calls,
                reads.deferred,
                reads.failed or "none",
            )
        return current

    async def _publish(
        self, producer: AIOKafkaProducer, result: Diff, records: list[tuple[bytes, bytes | None]]
    ) -> None:
        config = self._config
        async with self._publishing, producer.transaction():
            for change in result.changes:
                event = change_event(
                    change.name,
                    change.data,
                    subject=change.subject,
                    key=change.key,
                    prefix=config.type_prefix,
                    source=config.source,
                    opening=change.opening,
                )
                await producer.send(
                    config.events_topic,
                    change_event_bytes(event),
                    key=change.key.encode("utf-8"),
                    headers=[(CONTENT_TYPE, b"application/cloudevents+json; charset=utf-8")],
                )
            for key, value in records:
                await producer.send(self._store.topic, value, key=key)
            if not self._lease.held:
                raise LeaseLostError  # abort: the next leader starts from the last commit


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Await ``work`` unless ``stop`` comes first, then cancel it and return None."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopped
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None
