"""The durable snapshot: a compacted Kafka topic, written in the same transaction as events.

One record per room (``<account>/room:<room_id>``), per media server
(``<account>/server:<server_id>``) and one ``<account>/meta`` record per vendor account; the
value is the entity's JSON (`gateway.poller.model`). A cycle writes only the records that
changed, in the transaction that publishes the cycle's events, so the events and the snapshot
they lead to become visible together or not at all: a restart or a new leader never re-emits
a published change and never misses an unpublished one. A room that closed and whose final
statistics are out is deleted with a tombstone (a null value), so compaction keeps about one
record per open room: loading takes time in proportion to the open rooms, not to history.

Records of format 1 had no account in the key (``room:<id>``, ``meta``): they load as the
default account's, and the poller rewrites them under the new keys (and deletes the old
ones) in its first transaction for that account.

A new leader loads after its transactional producer started: that start aborted whatever the
previous leader left open, so reading ``read_committed`` up to the end offsets (the last
stable offsets) sees exactly the committed snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.errors import GatewayError
from gateway.poller.diff import Diff
from gateway.poller.model import PollerState, RoomState, ServerState

__all__ = [
    "FORMAT_VERSION",
    "KafkaStateStore",
    "Snapshot",
    "StateLoadError",
    "encode_records",
    "encode_state",
    "parse_records",
]

log = logging.getLogger("gateway.poller")

FORMAT_VERSION = 2
_READABLE = (1, 2)
_ROOM = "room:"
_SERVER = "server:"
_META = "meta"
DEFAULT_ACCOUNT = "default"


class StateLoadError(GatewayError):
    """The snapshot topic could not be read to its end in time."""

    retryable = True  # the poller tries again on its next term


@dataclass(slots=True)
class Snapshot:
    """Every account's state, and the keys of format 1 still to rewrite (default account)."""

    accounts: dict[str, PollerState] = field(default_factory=dict)
    legacy_keys: set[bytes] = field(default_factory=set)
    records: int = 0

    def of(self, account: str) -> PollerState:
        """The state of ``account`` (empty when it has none yet)."""
        return self.accounts.get(account, PollerState())


def _key(account: str, name: str) -> bytes:
    return f"{account}/{name}".encode()


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **value}, separators=(",", ":")).encode("utf-8")


def _meta(state: PollerState) -> bytes:
    return _dump({"rooms_seen": state.rooms_seen, "servers_seen": state.servers_seen})


def encode_records(
    result: Diff, account: str = DEFAULT_ACCOUNT
) -> list[tuple[bytes, bytes | None]]:
    """The records a diff of ``account`` changed, as (key, value); value None deletes."""
    state = result.state
    records: list[tuple[bytes, bytes | None]] = [
        (_key(account, _ROOM + room_id), _dump(state.rooms[room_id].to_json()))
        for room_id in sorted(result.dirty_rooms)
    ]
    records += [(_key(account, _ROOM + room_id), None) for room_id in sorted(result.removed_rooms)]
    records += [
        (_key(account, _SERVER + server_id), _dump(state.servers[server_id].to_json()))
        for server_id in sorted(result.dirty_servers)
    ]
    if result.meta_dirty:
        records.append((_key(account, _META), _meta(state)))
    return records


def encode_state(
    state: PollerState, account: str, delete: Iterable[bytes] = ()
) -> list[tuple[bytes, bytes | None]]:
    """Every record of ``account``'s state, and tombstones for the keys in ``delete``."""
    records: list[tuple[bytes, bytes | None]] = [(key, None) for key in sorted(delete)]
    records += [
        (_key(account, _ROOM + room_id), _dump(room.to_json()))
        for room_id, room in sorted(state.rooms.items())
    ]
    records += [
        (_key(account, _SERVER + server_id), _dump(server.to_json()))
        for server_id, server in sorted(state.servers.items())
    ]
    records.append((_key(account, _META), _meta(state)))
    return records


def _split(key: str) -> tuple[str, str, bool]:
    """(account, entity key, whether the key is of format 1)."""
    if key == _META or key.startswith((_ROOM, _SERVER)):
        return DEFAULT_ACCOUNT, key, True
    account, _, rest = key.partition("/")
    return account, rest, False


def parse_records(records: dict[bytes, bytes | None]) -> Snapshot:
    """The snapshot from the latest value per key (None: deleted)."""
    rooms: dict[str, dict[str, RoomState]] = {}
    servers: dict[str, dict[str, ServerState]] = {}
    metas: dict[str, dict[str, Any]] = {}
    legacy: set[bytes] = set()
    for raw_key, raw_value in records.items():
        if raw_value is None:
            continue
        account, key, old = _split(raw_key.decode("utf-8"))
        value = json.loads(raw_value)
        if value.get("v") not in _READABLE:
            log.warning("poller state: skipping %s of unknown format %r", key, value.get("v"))
            continue
        if old:
            legacy.add(raw_key)
        if key.startswith(_ROOM):
            rooms.setdefault(account, {})[key.removeprefix(_ROOM)] = RoomState.from_json(value)
        elif key.startswith(_SERVER):
            servers.setdefault(account, {})[key.removeprefix(_SERVER)] = ServerState.from_json(
                value
            )
        elif key == _META:
            metas[account] = value
    snapshot = Snapshot(legacy_keys=legacy)
    for account in rooms.keys() | servers.keys() | metas.keys():
        meta = metas.get(account, {})
        snapshot.accounts[account] = PollerState(
            rooms=rooms.get(account, {}),
            servers=servers.get(account, {}),
            rooms_seen=bool(meta.get("rooms_seen")),
            servers_seen=bool(meta.get("servers_seen")),
        )
    return snapshot


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

    async def load(self) -> Snapshot:
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

    async def _read_all(self, consumer: AIOKafkaConsumer) -> Snapshot:
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
        snapshot = parse_records(latest)
        snapshot.records = count
        for account, state in sorted(snapshot.accounts.items()):
            log.info(
                "poller state loaded for account %s: %d rooms (%d open), %d media servers",
                account,
                len(state.rooms),
                len(state.open_rooms()),
                len(state.servers),
            )
        log.info(
            "poller state: %d records read, %d live keys",
            count,
            len(latest) - list(latest.values()).count(None),
        )
        return snapshot
