"""A partition handed back to us never starts behind the transaction we committed ourselves."""

from __future__ import annotations

from typing import Any, cast

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from gateway.commands.consumer import CommandConsumer, ConsumerConfig

TP = TopicPartition("commands", 0)


class _Consumer:
    """Just what ``assign`` touches: the coordinator's committed offset and seek."""

    def __init__(self, committed: int | Exception | None) -> None:
        self._committed = committed
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def committed(self, tp: TopicPartition) -> int | None:
        if isinstance(self._committed, Exception):
            raise self._committed
        return self._committed

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def _engine(consumer: _Consumer, own: int | None) -> CommandConsumer:
    config = ConsumerConfig("commands", "results", "dlq", "group")
    engine = CommandConsumer(cast(Any, consumer), cast(Any, None), cast(Any, None), config)
    if own is not None:
        engine._committed[TP] = own
    return engine


async def test_stale_fetched_offset_is_overridden_by_our_own_commit() -> None:
    consumer = _Consumer(committed=100)
    await _engine(consumer, own=140).assign({TP})
    assert consumer.seeks == [(TP, 140)]


async def test_newer_commit_by_another_replica_is_kept() -> None:
    consumer = _Consumer(committed=200)
    await _engine(consumer, own=140).assign({TP})
    assert consumer.seeks == []


async def test_first_assignment_uses_the_group_offset() -> None:
    consumer = _Consumer(committed=100)
    await _engine(consumer, own=None).assign({TP})
    assert consumer.seeks == []


async def test_unreadable_group_offset_keeps_the_default_start() -> None:
    consumer = _Consumer(committed=KafkaConnectionError())
    await _engine(consumer, own=140).assign({TP})
    assert consumer.seeks == []
