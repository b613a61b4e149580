"""Bounded state: rooms that open and close leave no record behind. Each closed room's final
statistics come out, then a tombstone; after compaction a new leader's load reads the open
rooms and the recent tombstones, not the history.

The size is ``POLLER_BOUNDED_ROOMS`` (default 1,000 in the suite; the note quotes a run with
10,000): rooms opened and closed in batches of 500, one poller cycle every 0.4 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateway.app.kafka import make_consumer
from gateway.poller import KafkaStateStore
from tests.integration.pipeline import committed_reader
from tests.integration.poller_support import (
    make_poller_topics,
    poller_settings,
    running_poller,
    state_topic_contents,
)

ROOMS = int(os.environ.get("POLLER_BOUNDED_ROOMS", "1000"))
BATCH = 500
FINAL = b'"final":true'


class Counter:
    """Counts records of the events topic by a byte pattern (parsing 50,000 events in a loop
    would cost more than the poller)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = committed_reader(bootstrap, topic)
        self.opened = 0
        self.closed = 0
        self.finals = 0
        self.order_ok = True
        self._closed_rooms: set[bytes] = set()

    async def follow(self) -> None:
        await self._consumer.start()
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for record in records:
                        self._count(record.key, record.value)
        finally:
            await self._consumer.stop()

    def _count(self, key: bytes, value: bytes) -> None:
        if b'"type":"avd.room.opened"' in value:
            self.opened += 1
        elif b'"type":"avd.room.closed"' in value:
            self.closed += 1
            self._closed_rooms.add(key)
        elif FINAL in value:
            self.finals += 1
            # The final statistics of a room come after its room.closed.
            self.order_ok = self.order_ok and key in self._closed_rooms

    async def until(self, what: str, done: Callable[[], bool], within: float = 60.0) -> None:
        end = time.monotonic() + within
        while not done():
            assert time.monotonic() < end, f"{what} not within {within}s"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def counting(bootstrap: str, topic: str) -> AsyncIterator[Counter]:
    counter = Counter(bootstrap, topic)
    task = asyncio.create_task(counter.follow())
    try:
        yield counter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _all(calls: list[Callable[[], Awaitable[httpx.Response]]]) -> None:
    limit = asyncio.Semaphore(32)

    async def one(call: Callable[[], Awaitable[httpx.Response]]) -> None:
        async with limit:
            (await call()).raise_for_status()

    await asyncio.gather(*(one(c) for c in calls))


async def _live_keys(bootstrap: str, topic: str) -> tuple[int, int]:
    """(records read from the beginning, keys whose latest value is not a tombstone)."""
    count, latest = await state_topic_contents(bootstrap, topic)
    return count, sum(value is not None for value in latest.values())


async def test_closed_rooms_leave_no_state_behind(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """ROOMS rooms opened and closed: as many room.opened, room.closed and final statistics
    (each after its room.closed); the state topic's live keys are then the meta and media-server
    records only; after compaction the load reads about that many records."""
    topics = await make_poller_topics(kafka_bootstrap, "poller-bounded")
    # The state topic as the poller would create it, but rolling segments and cleaning at
    # once, so that compaction can be watched within the test.
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        quick = {
            "cleanup.policy": "compact",
            "segment.ms": "200",
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "100",
        }
        await admin.create_topics([NewTopic(topics.state, 1, 1, topic_configs=quick)])
    finally:
        await admin.close()
    settings = poller_settings(kafka_bootstrap, simulator_url, topics, max_rooms_per_cycle=BATCH)
    started = time.monotonic()
    async with counting(kafka_bootstrap, topics.events) as counter, running_poller(settings):
        for first in range(0, ROOMS, BATCH):
            rooms = [f"8{n:010d}" for n in range(first, min(first + BATCH, ROOMS))]
            await _all(
                [
                    functools.partial(
                        sim.post, f"/_sim/rooms/{room}/participants", json={"user_id": "u"}
                    )
                    for room in rooms
                ]
            )
            opened = first + len(rooms)
            await counter.until("room.opened", lambda n=opened: counter.opened >= n)
            await _all([functools.partial(sim.post, f"/_sim/rooms/{room}/close") for room in rooms])
            await counter.until("final statistics", lambda n=opened: counter.finals >= n)
        # One more change, so that the segment with the last tombstones rolls and is cleaned.
        await asyncio.sleep(0.5)
        await _all(
            [
                functools.partial(
                    sim.post, "/_sim/rooms/89999999999/participants", json={"user_id": "u"}
                )
            ]
        )
        await counter.until("the last room.opened", lambda: counter.opened >= ROOMS + 1)
    took = time.monotonic() - started
    assert (counter.opened, counter.closed, counter.finals) == (ROOMS + 1, ROOMS, ROOMS)
    assert counter.order_ok, "a final statistics event came before its room.closed"

    records, live = await _live_keys(kafka_bootstrap, topics.state)
    # The open room, the meta record and the media server's: nothing of the closed rooms.
    assert live == 3, f"{live} live keys after {ROOMS} rooms opened and closed"

    store = KafkaStateStore(
        topics.state, functools.partial(make_consumer, settings.kafka, client_id="bounded-test")
    )
    loaded = await store.load()
    assert set(loaded.of("default").rooms) == {"89999999999"}
    # Compaction (the broker's cleaner looks every 15 s) drops the history: every record of a
    # closed room but its tombstone, which stays for delete.retention.ms after the cleaning (an
    # hour as the poller creates the topic; a load skips it).
    end = time.monotonic() + 90
    compacted = records
    while compacted > ROOMS + live + 10:
        assert time.monotonic() < end, f"{compacted} of {records} records left after compaction"
        await asyncio.sleep(2)
        compacted = (await _live_keys(kafka_bootstrap, topics.state))[0]
    load_started = time.perf_counter()
    loaded = await store.load()
    load_s = time.perf_counter() - load_started
    print(
        f"\nbounded state: {ROOMS} rooms opened and closed in {took:.1f}s; live keys {live};"
        f" records {records} before compaction, {loaded.records} after; load {load_s * 1000:.0f} ms"
    )
    assert loaded.records <= compacted
