"""Kafka for the cases: a paced load producer, and a read_committed follower that
keeps every record with its arrival time (it rides out a broker restart)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

__all__ = [
    "BatchFollower",
    "Follower",
    "LoadProducer",
    "Seen",
    "Sent",
    "wait_group_members",
]

log = logging.getLogger("chaos")


async def wait_group_members(bootstrap: str, group: str, members: int, within: float) -> bool:
    """Until the consumer group is Stable with ``members`` members; False on timeout."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        end = time.monotonic() + within
        while time.monotonic() < end:
            with contextlib.suppress(KafkaError, OSError):
                (response,) = await admin.describe_consumer_groups([group])
                for g in response.to_object()["groups"]:
                    if g["state"] == "Stable" and len(g["members"]) == members:
                        return True
            await asyncio.sleep(0.3)
        return False
    finally:
        await admin.close()


@dataclass
class Sent:
    """One record the load producer sent (times are wall-clock seconds)."""

    ident: str  # command id, or a synthetic id for records that carry none
    t: float
    partition: int = -1
    offset: int = -1
    ok: bool | None = None  # None: no acknowledgement yet
    kind: str = "valid"


class LoadProducer:
    """Sends records at a pace; remembers when each was sent and where it landed.

    Idempotent producer with a long request timeout, so a broker restart delays the records
    instead of losing or doubling them; a send that still fails is marked ``ok=False`` (such a
    record is not counted as sent by the audit).
    """

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=180_000,
            max_request_size=1_100_000,
        )
        self.sent: list[Sent] = []
        self._pending: set[asyncio.Future[Any]] = set()

    async def __aenter__(self) -> LoadProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.flush()
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes | dict[str, Any] | None,
        *,
        key: bytes | None,
        ident: str,
        kind: str = "valid",
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Sent:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        entry = Sent(ident, time.time(), kind=kind)
        self.sent.append(entry)
        try:
            future = await self._producer.send(topic, raw, key=key, headers=headers or [])
        except KafkaError as exc:
            entry.ok = False
            log.warning("send of %s failed at once: %r", ident, exc)
            return entry

        def landed(done: asyncio.Future[Any]) -> None:
            self._pending.discard(done)
            if done.cancelled() or done.exception() is not None:
                entry.ok = False
                return
            meta = done.result()
            entry.partition, entry.offset, entry.ok = meta.partition, meta.offset, True

        self._pending.add(future)
        future.add_done_callback(landed)
        return entry

    async def flush(self) -> None:
        """Until every record sent so far is acknowledged (or failed)."""
        with contextlib.suppress(KafkaError):
            await self._producer.flush()
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=200)


@dataclass
class Seen:
    """One record the follower read."""

    t: float
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    data: dict[str, Any] | None = None  # a result event's data, parsed on arrival


class BatchFollower:
    """Reads topics read_committed from the start, in a background task, until closed, and
    hands each batch to ``_read`` (what a subclass keeps of it)."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._consumer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _follow(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            except KafkaError as exc:  # e.g. while the broker restarts
                self.errors += 1
                log.info("follower: %r; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            await self._read(batch, time.time())

    async def _read(self, batch: dict[TopicPartition, list[ConsumerRecord]], now: float) -> None:
        """Takes one batch, read at ``now`` (wall clock)."""
        raise NotImplementedError


class Follower(BatchFollower):
    """Keeps every record it reads (``records``, per topic), the results counted by command
    id."""

    def __init__(self, bootstrap: str, *topics: str, results: str | None = None) -> None:
        super().__init__(bootstrap, *topics)
        self._results = results
        self.result_counts: dict[str, int] = {}  # command id -> results read
        self.records: dict[str, list[Seen]] = {t: [] for t in topics}

    async def _read(self, batch: dict[TopicPartition, list[ConsumerRecord]], now: float) -> None:
        for tp, records in batch.items():
            out = self.records[tp.topic]
            for r in records:
                seen = Seen(now, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                if tp.topic == self._results:
                    seen.data = _result_data(r.value)
                    ident = str(seen.data.get("command_id"))
                    self.result_counts[ident] = self.result_counts.get(ident, 0) + 1
                out.append(seen)

    def count(self, topic: str) -> int:
        return len(self.records[topic])

    async def wait_until(self, predicate: Any, within: float, poll: float = 0.25) -> bool:
        """Until ``predicate()`` holds (True) or ``within`` seconds pass (False)."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            if predicate():
                return True
            await asyncio.sleep(poll)
        return bool(predicate())


def _result_data(value: bytes | None) -> dict[str, Any]:
    try:
        data = json.loads(value or b"{}")["data"]
    except (ValueError, KeyError, TypeError):
        return {"command_id": "<unreadable result>"}
    return data if isinstance(data, dict) else {"command_id": "<unreadable result>"}
