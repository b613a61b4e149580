"""The loop without Kafka: publishing in one transaction, lease loss, failures, terms."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from gateway.poller.diff import Observation
from gateway.poller.loop import AccountPolling, Poller, PollerConfig
from gateway.poller.model import PollerState
from gateway.poller.observe import CycleStats
from gateway.poller.schedule import Cadence, Kind
from gateway.poller.state_store import Snapshot
from tests.unit.poller.builders import T0, person, room


class FakeProducer:
    """Records sends per transaction; ``committed`` holds what a reader would see."""

    def __init__(self) -> None:
        self.started = self.stopped = False
        self.pending: list[tuple[str, bytes | None, bytes]] = []
        self.committed: list[tuple[str, bytes | None, bytes]] = []
        self.aborted = 0

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.pending = []
        try:
            yield
        except BaseException:
            self.aborted += 1
            raise
        self.committed += self.pending

    async def send(self, topic: str, value: bytes, key: bytes, **_: Any) -> None:
        self.pending.append((topic, key, value))


class FakeLease:
    """Held unless told otherwise."""

    def __init__(self) -> None:
        self.held = True
        self.changed = asyncio.Event()

    async def wait_changed(self, within: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), within)
        self.changed.clear()


class FakeObserver:
    """Returns the queued observations (the last one forever), or raises a queued error."""

    def __init__(self, *answers: Observation | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def observe(
        self, due: set[Kind], state: PollerState, publish: Any = None
    ) -> tuple[Observation, CycleStats]:
        """The queued answer as the cycle's second part (the first part publishes nothing)."""
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer, CycleStats(calls=1)


class FakeStore:
    """A snapshot store that starts empty."""

    topic = "state"

    def __init__(self) -> None:
        self.loads = 0

    async def load(self) -> Snapshot:
        self.loads += 1
        return Snapshot()


OPEN = Observation(T0, rooms={"r1": room("r1")}, participants={"r1": {"a": person("a")}})


def _poller(observer: FakeObserver, lease: FakeLease, producer: FakeProducer) -> Poller:
    config = PollerConfig(
        events_topic="events",
        cadences={k: Cadence(0.05, 0.0) for k in Kind},
        retry_backoff_s=0.01,
    )
    accounts = {"default": AccountPolling(observer)}  # type: ignore[arg-type]
    return Poller(config, lease, accounts, FakeStore(), lambda: producer)  # type: ignore[arg-type]


async def test_a_cycle_publishes_events_and_snapshot_in_one_transaction() -> None:
    """Events (keyed by room) then the changed snapshot records, committed together."""
    producer = FakeProducer()
    poller = _poller(FakeObserver(OPEN), FakeLease(), producer)
    state = await poller.cycle(producer, PollerState(), set(Kind))  # type: ignore[arg-type]
    topics = [t for t, _, _ in producer.committed]
    assert topics == ["events", "events", "state", "state"]
    first = json.loads(producer.committed[0][2])
    assert (first["type"], producer.committed[0][1]) == ("avd.room.opened", b"r1")
    assert {k for t, k, _ in producer.committed if t == "state"} == {
        b"default/room:r1",
        b"default/meta",
    }
    assert state.rooms["r1"].participants is not None
    assert poller.stats.events == 2


async def test_losing_the_lease_aborts_the_cycles_transaction() -> None:
    """The lease goes during the cycle: nothing is committed and the snapshot stays."""
    producer, lease = FakeProducer(), FakeLease()
    poller = _poller(FakeObserver(OPEN), lease, producer)
    lease.held = False
    before = PollerState()
    after = await poller.cycle(producer, before, set(Kind))  # type: ignore[arg-type]
    assert after is before
    assert (producer.committed, producer.aborted) == ([], 1)


async def test_a_failing_cycle_keeps_the_snapshot_and_the_loop_goes_on() -> None:
    """An unexpected error in a cycle is logged; the next cycle starts from the same state."""
    producer = FakeProducer()
    poller = _poller(FakeObserver(RuntimeError("boom"), OPEN), FakeLease(), producer)
    before = PollerState()
    assert await poller.cycle(producer, before, set(Kind)) is before  # type: ignore[arg-type]
    assert poller.stats.failed_cycles == 1
    after = await poller.cycle(producer, before, set(Kind))  # type: ignore[arg-type]
    assert set(after.rooms) == {"r1"}


async def test_run_polls_while_leader_and_stops_on_request() -> None:
    """One term: producer started once, snapshot loaded once, cycles until stop."""
    producer, lease = FakeProducer(), FakeLease()
    observer = FakeObserver(OPEN)
    poller = _poller(observer, lease, producer)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert observer.calls >= 3
    assert (producer.started, producer.stopped) == (True, True)
    assert poller.stats.terms == 1
    # Later cycles saw no change: only the first one published.
    assert len([t for t, _, _ in producer.committed if t == "events"]) == 2


async def test_no_polling_without_the_lease() -> None:
    """A replica that does not hold the lease never starts a producer or reads the vendor."""
    producer, lease = FakeProducer(), FakeLease()
    lease.held = False
    observer = FakeObserver(OPEN)
    poller = _poller(observer, lease, producer)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.2)
    assert (observer.calls, producer.started) == (0, False)
    lease.held = True
    lease.changed.set()
    await asyncio.sleep(0.2)
    assert observer.calls >= 1
    lease.held = False
    lease.changed.set()
    await asyncio.sleep(0.1)
    calls = observer.calls
    await asyncio.sleep(0.2)
    assert observer.calls == calls, "it kept polling after losing the lease"
    assert producer.stopped
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_stop_cancels_a_slow_cycle() -> None:
    """A cycle stuck on the vendor does not hold up a stop."""

    class Slow(FakeObserver):
        async def observe(self, due: set[Kind], state: PollerState, publish: Any = None) -> Any:
            await asyncio.sleep(60)

    producer = FakeProducer()
    poller = _poller(Slow(OPEN), FakeLease(), producer)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert producer.stopped


async def test_one_accounts_stuck_vendor_never_delays_anothers_cycles() -> None:
    """Two accounts in one term: "eu"'s reads hang, "default" keeps cycling and publishing,
    its events and state records carrying its own account."""

    class Stuck(FakeObserver):
        async def observe(self, due: set[Kind], state: PollerState, publish: Any = None) -> Any:
            self.calls += 1
            await asyncio.sleep(60)

    producer, lease = FakeProducer(), FakeLease()
    fine, stuck = FakeObserver(OPEN), Stuck(OPEN)
    config = PollerConfig(events_topic="events", cadences={k: Cadence(0.05, 0.0) for k in Kind})
    accounts = {"default": AccountPolling(fine), "eu": AccountPolling(stuck)}  # type: ignore[arg-type]
    poller = Poller(config, lease, accounts, FakeStore(), lambda: producer)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.4)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert stuck.calls == 1
    assert fine.calls >= 4
    events = [json.loads(v) for t, _, v in producer.committed if t == "events"]
    assert {e["account"] for e in events} == {"default"}
    assert {e["data"]["account"] for e in events} == {"default"}
    keys = {k for t, k, _ in producer.committed if t == "state"}
    assert keys
    assert all(k.startswith(b"default/") for k in keys)


async def test_the_first_cycle_rewrites_state_of_the_old_format() -> None:
    """Records of format 1 in the snapshot: the default account's first transaction writes
    its whole state under the new keys and deletes the old keys, also without any change."""

    class OldStore(FakeStore):
        async def load(self) -> Snapshot:
            return Snapshot({"default": PollerState(rooms_seen=True)}, {b"meta", b"room:gone"})

    producer = FakeProducer()
    config = PollerConfig(events_topic="events", cadences={k: Cadence(0.05, 0.0) for k in Kind})
    accounts = {"default": AccountPolling(FakeObserver(Observation(T0)))}  # type: ignore[arg-type]
    poller = Poller(config, FakeLease(), accounts, OldStore(), lambda: producer)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    state_records = [(k, v) for t, k, v in producer.committed if t == "state"]
    assert state_records[:2] == [(b"meta", None), (b"room:gone", None)]
    assert state_records[2][0] == b"default/meta"
    assert len(state_records) == 3, "rewritten once, not every cycle"
