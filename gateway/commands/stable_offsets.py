"""Committed offsets that wait for pending transactions: OffsetFetch v7 with ``require_stable``.

A result and its command's offset are committed in one Kafka transaction. Its offsets become
visible to an OffsetFetch only once the transaction's markers are written, a moment (or, when
the broker is restarting, seconds) after the commit. A new owner of a partition that fetches
its committed offset before that gets the older one and processes those commands again: their
results would be published twice (replayed from the idempotency store). KIP-447 fixes this
with ``require_stable``: the coordinator answers UNSTABLE_OFFSET_COMMIT while a transaction
with offsets for the partition is pending, and the consumer asks again.

aiokafka 0.14 speaks OffsetFetch only up to v3, without that flag; this module adds v7 (the
last single-group version) on aiokafka's own protocol classes, and is written by hand for
that reason. A broker without v7 (before Kafka 2.5) makes :func:`stable_committed` raise
:class:`StableOffsetsUnsupportedError`; the caller then falls back to the plain fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IncompatibleBrokerVersion
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

from gateway.errors import GatewayError

__all__ = ["StableOffsetsUnsupportedError", "UnstableOffsetsError", "stable_committed"]

_UNSTABLE_OFFSET_COMMIT = 88
_NONE = 0


class StableOffsetsUnsupportedError(GatewayError):
    """The broker does not speak OffsetFetch v7."""


class UnstableOffsetsError(GatewayError):
    """A transaction with offsets for these partitions stayed pending past the wait."""


class _OffsetFetchResponseV7(Response):  # type: ignore[misc]
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )


class _OffsetFetchRequestV7(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = _OffsetFetchResponseV7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("partition_indexes", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


_Struct: TypeAlias = _OffsetFetchRequestV7


class _StableOffsetFetch(Request[_Struct]):  # type: ignore[misc]
    API_KEY = 9

    def __init__(self, group_id: str, partitions: Iterable[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        self._group_id = group_id
        self._topics: list[tuple[str, list[int], dict[int, bytes]]] = [
            (name, sorted(ids), {}) for name, ids in sorted(by_topic.items())
        ]

    def build(self, request_struct_class: type[_Struct]) -> _Struct:
        return request_struct_class(self._group_id, self._topics, True, {})


async def _fetch_once(
    consumer: AIOKafkaConsumer, group_id: str, partitions: set[TopicPartition]
) -> tuple[dict[TopicPartition, int | None], set[TopicPartition]]:
    """(committed offset per stable partition (None: none committed), unstable partitions)."""
    # aiokafka's own coordinator lookup and connection: private, but the only way to send a
    # request to the group coordinator through the consumer's client.
    coordinator: Any = consumer._coordinator
    client: Any = consumer._client
    node = await coordinator.ensure_coordinator_known() or coordinator.coordinator_id
    try:
        response = await client.send(
            coordinator.coordinator_id, _StableOffsetFetch(group_id, partitions)
        )
    except (IncompatibleBrokerVersion, NotImplementedError) as exc:
        raise StableOffsetsUnsupportedError(f"OffsetFetch v7 not supported: {exc}") from None
    del node
    if response.error_code not in (_NONE, _UNSTABLE_OFFSET_COMMIT):
        raise GatewayError(f"OffsetFetch v7 answered error {response.error_code}")
    stable: dict[TopicPartition, int | None] = {}
    unstable: set[TopicPartition] = set()
    for name, entries, _ in response.topics:
        for index, offset, _epoch, _metadata, error, _ in entries:
            tp = TopicPartition(name, index)
            if error == _UNSTABLE_OFFSET_COMMIT:
                unstable.add(tp)
            elif error != _NONE:
                raise GatewayError(f"OffsetFetch v7 answered error {error} for {tp}")
            else:
                stable[tp] = offset if offset >= 0 else None
    return stable, unstable


async def stable_committed(
    consumer: AIOKafkaConsumer,
    group_id: str,
    partitions: Iterable[TopicPartition],
    *,
    wait_s: float,
    poll_s: float = 0.1,
) -> dict[TopicPartition, int | None]:
    """The committed offset of each partition once no transaction with offsets for it is
    pending (None: nothing committed); raises :class:`UnstableOffsetsError` after ``wait_s``."""
    pending = set(partitions)
    found: dict[TopicPartition, int | None] = {}
    deadline = time.monotonic() + wait_s
    while pending:
        stable, unstable = await _fetch_once(consumer, group_id, pending)
        found.update(stable)
        pending = unstable
        if pending:
            if time.monotonic() >= deadline:
                raise UnstableOffsetsError(
                    f"offsets of {sorted(map(str, pending))} still pending after {wait_s:.0f}s"
                )
            await asyncio.sleep(poll_s)
    return found
