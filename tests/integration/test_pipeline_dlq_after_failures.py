"""A record whose processing keeps failing on infrastructure goes to the DLQ after its tries,
and the partition moves on: the next command on it still gets its result."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway import retry
from gateway.app.accounts import build_accounts
from gateway.app.commands_role import upload_source_policy
from gateway.app.kafka import make_consumer, make_producer
from gateway.commands.consumer import CommandConsumer, ConsumerConfig
from gateway.commands.handler import CommandHandler, HandlerConfig
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.settings import GatewaySettings
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_records,
    read_results,
)


class ClaimAlwaysFails:
    """A real store whose ``claim`` always raises, as a store that is down does."""

    def __init__(self, inner: SqliteIdempotencyStore) -> None:
        self.inner = inner
        self.claims = 0

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Any:
        self.claims += 1
        raise ConnectionError("idempotency store unavailable")

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        return await self.inner.renew(key, owner, lease_s)

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        return await self.inner.complete(key, owner, outcome, retention_s)

    async def release(self, key: str, owner: str) -> None:
        await self.inner.release(key, owner)

    async def close(self) -> None:
        await self.inner.close()


@contextlib.asynccontextmanager
async def commands_role_with(
    settings: GatewaySettings, store: ClaimAlwaysFails
) -> AsyncIterator[None]:
    """The commands role as ``run_commands_role`` wires it, on ``store``, until the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        accounts = build_accounts(settings, None)
        for account in accounts.values():
            stack.push_async_callback(account.client.aclose)
        handler = CommandHandler(
            accounts,
            store,
            HandlerConfig.from_settings(
                settings, owner="gw-dlq-test", upload_source=upload_source_policy(settings)
            ),
        )
        kafka = settings.kafka
        producer = make_producer(
            kafka,
            client_id="gw-dlq-test",
            transactional_id=f"{kafka.consumer_group}-gw-dlq-test",
        )
        consumer = make_consumer(kafka, client_id="gw-dlq-test", group_id=kafka.consumer_group)
        await producer.start()
        stack.push_async_callback(producer.stop)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        engine = CommandConsumer(
            consumer, producer, handler, ConsumerConfig.from_settings(settings)
        )
        stop = asyncio.Event()
        running = asyncio.create_task(engine.run(stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)


async def test_a_record_failing_every_try_is_dead_lettered_and_the_partition_goes_on(
    kafka_bootstrap: str, simulator_url: str, tmp_path: Path
) -> None:
    """The claim of a RoomCreate fails on every try: after the configured 10 tries the record
    is on the DLQ with the failure count and the error class, and the RoomList behind it on
    the same partition (a query: no claim) gets its result."""
    topics = await make_topics(kafka_bootstrap, "dlqafter", partitions=1)
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    tries = settings.commands.max_processing_failures
    assert tries == 10  # the number README.md promises
    store = ClaimAlwaysFails(await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3"))
    poisoned = envelope("RoomCreate", {"topic": "never", "room_id": "77000000001"})
    behind = envelope("RoomList", {})
    records: list[tuple[bytes | None, bytes | dict[str, Any]]] = [
        (b"room-1", poisoned),
        (b"room-1", behind),
    ]
    try:
        # Waits between tries are zero inside the switch; the number of tries is untouched.
        with retry.testing():
            async with commands_role_with(settings, store):
                await produce(kafka_bootstrap, topics.commands, records)
                dead = await read_records(kafka_bootstrap, topics.dlq, 1, within=20.0)
                results = await read_results(kafka_bootstrap, topics.results, 1, within=20.0)
    finally:
        await store.close()
    assert len(dead) == 1, dead
    assert (dead[0].key, json.loads(dead[0].value)) == (b"room-1", poisoned)
    headers = dict(dead[0].headers)
    assert headers["dlq-reason"] == f"processing failed {tries} times".encode()
    assert headers["dlq-error-class"] == b"ConnectionError"
    assert headers["dlq-source-topic"] == topics.commands.encode()
    assert store.claims == tries
    assert [r["data"]["command_id"] for r in results] == [behind["id"]]
    assert results[0]["data"]["status"] == "succeeded"
