"""A replica the group dropped (its session expired while the broker was unreachable) does not
commit results for partitions that may have a new owner by now (chaos net-kafka's duplicate)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from aiokafka import TopicPartition

from gateway.commands.consumer import (
    CommandConsumer,
    ConsumerConfig,
    HeartbeatWatch,
    group_generation,
)
from gateway.commands.outbound import Outbound
from gateway.commands.stable_offsets import StableOffsetsUnsupportedError
from gateway.settings import GatewaySettings

TP = TopicPartition("commands", 0)


class _Consumer:
    async def committed(self, tp: TopicPartition) -> int | None:
        return None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass


class _Producer:
    """Records what each transaction published and committed."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.offsets: list[dict[TopicPartition, int]] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def send(self, topic: str, value: bytes, **_: Any) -> None:
        self.sent.append(value)

    async def send_offsets_to_transaction(self, offsets: Any, group_id: str) -> None:
        self.offsets.append(dict(offsets))


async def _no_v7(*_: Any, **__: Any) -> dict[TopicPartition, int | None]:
    raise StableOffsetsUnsupportedError("no v7")


def _engine(generation: list[int | None]) -> tuple[CommandConsumer, _Producer]:
    producer = _Producer()
    engine = CommandConsumer(
        cast(Any, _Consumer()),
        cast(Any, producer),
        cast(Any, None),
        ConsumerConfig.from_settings(GatewaySettings()),
        fetch_stable=_no_v7,
        generation=lambda _: generation[0],
    )
    return engine, producer


def _released(engine: CommandConsumer, offset: int) -> None:
    engine._unflushed.setdefault(TP, []).append(Outbound("results", b"k", b"r%d" % offset, []))
    engine._unflushed_offsets[TP] = offset + 1


async def test_a_member_of_the_assigning_generation_commits() -> None:
    generation: list[int | None] = [7]
    engine, producer = _engine(generation)
    await engine.assign({TP})
    _released(engine, 4)
    assert await engine.flush()
    assert producer.offsets == [{TP: 5}]


async def test_a_dropped_member_keeps_its_results_unpublished() -> None:
    """Heartbeat answered UNKNOWN_MEMBER_ID: aiokafka resets the generation to -1."""
    generation: list[int | None] = [7]
    engine, producer = _engine(generation)
    await engine.assign({TP})
    generation[0] = -1
    _released(engine, 4)
    assert not await engine.flush()
    assert producer.sent == []
    assert producer.offsets == []
    # The rejoin revokes the partitions: the batch goes to the next owner, not to Kafka.
    await engine.revoke({TP})
    assert producer.sent == []
    assert engine._unflushed == {}
    # Assigned again in the new generation: commits as usual.
    generation[0] = 8
    await engine.assign({TP})
    _released(engine, 4)
    assert await engine.flush()
    assert producer.offsets == [{TP: 5}]


async def test_an_unreadable_generation_does_not_block_commits() -> None:
    engine, producer = _engine([None])
    await engine.assign({TP})
    _released(engine, 0)
    assert await engine.flush()
    assert producer.offsets == [{TP: 1}]


def test_the_generation_is_read_from_aiokafkas_coordinator() -> None:
    class _Coordinator:
        generation = 3

    class _WithCoordinator:
        _coordinator = _Coordinator()

    assert group_generation(_WithCoordinator()) == 3
    assert group_generation(object()) is None


class _Coordinator:
    """aiokafka's GroupCoordinator as far as the watch touches it."""

    def __init__(self) -> None:
        self._session_timeout_ms = 10_000
        self.answers: list[bool] = []

    async def _do_heartbeat(self) -> bool:
        return self.answers.pop(0)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _WatchedConsumer(_Consumer):
    def __init__(self) -> None:
        self._coordinator = _Coordinator()


async def test_the_watch_notes_answered_heartbeats_only() -> None:
    consumer, clock = _WatchedConsumer(), _Clock()
    watch = HeartbeatWatch(consumer, clock)
    assert watch.age() is None  # not watching before the first assignment
    watch.confirmed()
    assert watch.session_s == 10.0
    consumer._coordinator.answers = [False, True]
    clock.now += 4
    assert await consumer._coordinator._do_heartbeat() is False
    assert watch.age() == 4
    clock.now += 2
    assert await consumer._coordinator._do_heartbeat() is True
    assert watch.age() == 0


async def test_a_member_unheard_for_half_a_session_holds_its_results_back() -> None:
    """The session expired at the broker before aiokafka heard of it (no heartbeat answer):
    the replica keeps its results until the coordinator answers a heartbeat again."""
    consumer, clock = _WatchedConsumer(), _Clock()
    producer = _Producer()
    engine = CommandConsumer(
        cast(Any, consumer),
        cast(Any, producer),
        cast(Any, None),
        ConsumerConfig.from_settings(GatewaySettings()),
        fetch_stable=_no_v7,
        generation=lambda _: 7,
        heartbeats=HeartbeatWatch(consumer, clock),
    )
    await engine.assign({TP})
    _released(engine, 4)
    clock.now += 6  # more than half the 10 s session without an answered heartbeat
    assert not await engine.flush()
    assert producer.offsets == []
    consumer._coordinator.answers = [True]
    await consumer._coordinator._do_heartbeat()
    assert await engine.flush()
    assert producer.offsets == [{TP: 5}]


async def test_membership_lost_during_the_sends_aborts_before_the_offsets() -> None:
    generation: list[int | None] = [7]
    engine, producer = _engine(generation)
    await engine.assign({TP})
    _released(engine, 4)

    async def send_then_lose(topic: str, value: bytes, **_: Any) -> None:
        producer.sent.append(value)
        generation[0] = -1  # a heartbeat answered UNKNOWN_MEMBER_ID meanwhile

    producer.send = send_then_lose  # type: ignore[method-assign]
    assert not await engine.flush()
    assert producer.offsets == []
