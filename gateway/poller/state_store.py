"""The durable snapshot: a compacted Kafka topic, written in the same transaction as events.

One record per room (``room:<room_id>``), per media server (``server:<server_id>``) and one
``meta`` record; the value is the entity's JSON (`gateway.poller.model`). A cycle writes only
the records that changed, in the transaction that publishes the cycle's events, so the events
and the snapshot they lead to become visible together or not at all: a restart or a new
leader never re-emits a published change and never misses an unpublished one. Compaction
keeps the latest record per key, so loading reads about one record per entity.

A new leader loads after its transactional producer started: that start aborted whatever the
previous leader left open, so reading ``read_committed`` up to the end offsets (the last
stable offsets) sees exactly the committed snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.errors import GatewayError
from gateway.poller.diff import Diff
from gateway.poller.model import PollerState, RoomState, ServerState

__all__ = ["FORMAT_VERSION", "KafkaStateStore", "StateLoadError", "encode_records", "parse_records"]

log = logging.getLogger("gateway.poller")

FORMAT_VERSION = 1
_ROOM = "room:"
_SERVER = "server:"
_META = "meta"


class StateLoadError(GatewayError):
    """The snapshot topic could not be read to its end in time."""

    retryable = True  # the poller tries again on its next term


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **value}, separators=(",", ":")).encode("utf-8")


def encode_records(result: Diff) -> list[tuple[bytes, bytes]]:
    """The records a diff changed, as (key, value)."""
    state = result.state
    records = [
        ((_ROOM + room_id).encode("utf-8"), _dump(state.rooms[room_id].to_json()))
        for room_id in sorted(result.dirty_rooms)
    ]
    records += [
        ((_SERVER + server_id).encode("utf-8"), _dump(state.servers[server_id].to_json()))
        for server_id in sorted(result.dirty_servers)
    ]
    if result.meta_dirty:
        meta = {"rooms_seen": state.rooms_seen, "servers_seen": state.servers_seen}
        records.append((_META.encode("utf-8"), _dump(meta)))
    return records


def parse_records(records: dict[bytes, bytes | None]) -> PollerState:
    """The snapshot from the latest value per key (None: deleted)."""
    rooms: dict[str, RoomState] = {}
    servers: dict[str, ServerState] = {}
    meta: dict[str, Any] = {}
    for raw_key, raw_value in records.items():
        if raw_value is None:
            continue
        key = raw_key.decode("utf-8")
        value = json.loads(raw_value)
        if value.get("v") != FORMAT_VERSION:
            log.warning("poller state: skipping %s of unknown format %r", key, value.get("v"))
            continue
        if key.startswith(_ROOM):
            rooms[key.removeprefix(_ROOM)] = RoomState.from_json(value)
        elif key.startswith(_SERVER):
            servers[key.removeprefix(_SERVER)] = ServerState.from_json(value)
        elif key == _META:
            meta = value
    return PollerState(
        rooms=rooms,
        servers=servers,
        rooms_seen=bool(meta.get("rooms_seen")),
        servers_seen=bool(meta.get("servers_seen")),
    )


class KafkaStateStore:
    """Loads the snapshot from ``topic``; the poller writes it (see :func:`encode_records`)."""

    def __init__(
        self,
        topic: str,
        make_consumer: Callable[..., AIOKafkaConsumer],
        *,
        load_timeout_s: float = 60.0,
    ) -> None:
        self.topic = topic
        self._make_consumer = make_consumer
        self._load_timeout_s = load_timeout_s

    async def load(self) -> PollerState:
        """Read the topic from the beginning to its last stable offsets."""
        consumer = self._make_consumer(group_id=None)
        await consumer.start()
        try:
            return await asyncio.wait_for(self._read_all(consumer), self._load_timeout_s)
        except TimeoutError:
            raise StateLoadError(
                f"poller state topic {self.topic!r} not read within {self._load_timeout_s}s"
            ) from None
        finally:
            await consumer.stop()

    async def _read_all(self, consumer: AIOKafkaConsumer) -> PollerState:
        # Assigning a partition makes the client fetch the topic's metadata, which tells
        # whether there are more partitions (the poller creates one; someone else may not).
        consumer.assign([TopicPartition(self.topic, 0)])
        partitions = consumer.partitions_for_topic(self.topic)
        while not partitions:
            await asyncio.sleep(0.05)
            partitions = consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        latest: dict[bytes, bytes | None] = {}
        count = 0
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for records in batch.values():
                for record in records:
                    if record.key is not None:
                        latest[record.key] = record.value
                        count += 1
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        state = parse_records(latest)
        log.info(
            "poller state loaded: %d records, %d rooms (%d open), %d media servers",
            count,
            len(state.rooms),
            len(state.open_rooms()),
            len(state.servers),
        )
        return state
