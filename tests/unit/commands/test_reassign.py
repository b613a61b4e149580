"""Handing partitions over never re-reads offsets behind a transaction we committed ourselves."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from gateway.commands.consumer import CommandConsumer, ConsumerConfig
from gateway.commands.stable_offsets import StableOffsetsUnsupportedError, UnstableOffsetsError
from gateway.settings import GatewaySettings

TP = TopicPartition("commands", 0)


class _Consumer:
    """Just what ``assign`` touches: the coordinator's committed offset and seek."""

    def __init__(self, committed: int | Exception | None, *later: int) -> None:
        self._committed = committed
        self._later = list(later)  # what the next fetches answer (markers being written)
        self.fetches = 0
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def committed(self, tp: TopicPartition) -> int | None:
        self.fetches += 1
        if isinstance(self._committed, Exception):
            raise self._committed
        answer = self._committed
        if self._later:
            self._committed = self._later.pop(0)
        return answer

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


async def _no_v7(*_: Any, **__: Any) -> dict[TopicPartition, int | None]:
    """A broker without OffsetFetch v7: the consumer falls back to the plain fetch."""
    raise StableOffsetsUnsupportedError("no v7")


def _engine(
    consumer: _Consumer, own: int | None, wait_s: float = 3.0, fetch_stable: Any = _no_v7
) -> CommandConsumer:
    config = dataclasses.replace(
        ConsumerConfig.from_settings(GatewaySettings()), stable_offsets_wait_s=wait_s
    )
    engine = CommandConsumer(
        cast(Any, consumer), cast(Any, None), cast(Any, None), config, fetch_stable=fetch_stable
    )
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


async def test_revoking_waits_until_our_commit_is_visible() -> None:
    """The coordinator answers the old offset twice, then ours: the handover waits for it."""
    consumer = _Consumer(100, 100, 140)
    await _engine(consumer, own=140)._until_offsets_stable({TP})
    assert consumer.fetches == 3


async def test_revoking_without_a_commit_of_ours_does_not_wait() -> None:
    consumer = _Consumer(100)
    await _engine(consumer, own=None)._until_offsets_stable({TP})
    assert consumer.fetches == 0


async def test_the_wait_is_bounded() -> None:
    consumer = _Consumer(100)
    await _engine(consumer, own=140, wait_s=0.2)._until_offsets_stable({TP})
    assert 2 <= consumer.fetches <= 6


async def test_a_new_owner_starts_at_the_stable_committed_offset() -> None:
    """The stable fetch (KIP-447) answers after pending transactions: its offset is the start,
    asked with the transaction timeout as the wait."""
    asked: list[float] = []

    async def stable(_: Any, group: str, parts: Any, *, wait_s: float) -> dict[Any, int | None]:
        asked.append(wait_s)
        return {tp: 150 for tp in parts}

    consumer = _Consumer(committed=100)
    await _engine(consumer, own=None, fetch_stable=stable).assign({TP})
    assert consumer.seeks == [(TP, 150)]
    assert asked == [15.0 + 5.0]


async def test_offsets_still_pending_fall_back_to_the_plain_fetch() -> None:
    """A transaction pending past the wait: a WARNING, and the old behaviour (own commit)."""

    async def pending(*_: Any, **__: Any) -> dict[Any, int | None]:
        raise UnstableOffsetsError("still pending")

    consumer = _Consumer(committed=100)
    await _engine(consumer, own=140, fetch_stable=pending).assign({TP})
    assert consumer.seeks == [(TP, 140)]
