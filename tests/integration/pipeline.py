"""Helpers for pipeline tests: a gateway in this process, topics, and a read_committed reader."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gateway.app.commands_role import run_commands_role
from gateway.app.embedded_simulator import simulator_vendor
from gateway.settings import (
    CommandsSettings,
    GatewaySettings,
    IdempotencySettings,
    KafkaSettings,
    RateLimitSettings,
    RedisSettings,
    RetrySettings,
)
from rigkit.topics import CommandTopics

__all__ = [
    "envelope",
    "gateway_settings",
    "make_topics",
    "produce",
    "read_records",
    "read_results",
    "running_gateway",
]


async def make_topics(bootstrap: str, prefix: str, partitions: int = 4) -> CommandTopics:
    """Create one test's own commands, results and DLQ topics (and name its consumer group)."""
    topics = CommandTopics.fresh(prefix, digits=12)
    await topics.create(bootstrap, partitions)
    return topics


def gateway_settings(
    bootstrap: str,
    vendor_url: str,
    topics: CommandTopics,
    *,
    instance_id: str = "gw-test-1",
    rate_per_s: float | None = None,
    redis_url: str | None = None,
    sqlite_path: str | None = None,
    retry: RetrySettings | None = None,
    **commands: Any,
) -> GatewaySettings:
    """Settings for a gateway under test (retries fast, limits off unless asked)."""
    rate = (
        RateLimitSettings(rate_per_s=rate_per_s, burst=max(2, int(rate_per_s // 10)))
        if rate_per_s
        else RateLimitSettings(enabled=False)
    )
    return GatewaySettings(
        instance_id=instance_id,
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            commands_topic=topics.commands,
            results_topic=topics.results,
            dlq_topic=topics.dlq,
            consumer_group=topics.group,
        ),
        vendor=simulator_vendor(vendor_url, read_timeout_s=2.0, rate_limit=rate),
        redis=RedisSettings(url=redis_url),
        idempotency=IdempotencySettings(
            backend="redis" if redis_url else "sqlite",
            sqlite_path=sqlite_path or f".cache/test-idem/{uuid.uuid4().hex}.sqlite3",
            lease_s=3.0,
        ),
        retry=retry or RetrySettings(max_attempts=6, initial_wait_s=0.05, max_wait_s=0.5),
        commands=CommandsSettings(grace_period_s=5.0, **commands),
    )


Role = Callable[[GatewaySettings, asyncio.Event], Awaitable[None]]


@asynccontextmanager
async def running_role(role: Role, settings: GatewaySettings) -> AsyncIterator[asyncio.Task[None]]:
    """Run a role in this process for the duration of the block, then stop it gracefully."""
    stop = asyncio.Event()
    task = asyncio.create_task(role(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def running_gateway(settings: GatewaySettings) -> AbstractAsyncContextManager[asyncio.Task[None]]:
    """Run the commands role in this process for the duration of the block."""
    return running_role(run_commands_role, settings)


def envelope(command_type: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A plain command envelope with a fresh id."""
    return {"id": str(uuid.uuid4()), "type": command_type, "payload": payload, **fields}


async def produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | dict[str, Any]]],
    headers: list[tuple[str, bytes]] | None = None,
    partitions: list[int] | None = None,
) -> None:
    """Send (key, value) records in order; dict values are JSON-encoded; ``partitions`` pins
    each record to a partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for i, (key, value) in enumerate(records):
            raw = json.dumps(value).encode() if isinstance(value, dict) else value
            partition = partitions[i] if partitions else None
            await producer.send(topic, raw, key=key, headers=headers or [], partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def committed_reader(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A consumer of ``topic`` from its start, read_committed, no group (not started)."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )


async def read_records(
    bootstrap: str, topic: str, count: int, within: float = 30.0, *, settle: float = 0.5
) -> list[Any]:
    """Read ``count`` records (read_committed) from the start of ``topic``, then ``settle`` more
    seconds to catch any extra (duplicate) record."""
    consumer = committed_reader(bootstrap, topic)
    await consumer.start()
    out: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + within
        while loop.time() < end and len(out) < count:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
        settle_end = loop.time() + settle
        while loop.time() < settle_end:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def read_results(
    bootstrap: str, topic: str, count: int, within: float = 30.0
) -> list[dict[str, Any]]:
    """Result events (parsed) from ``topic``."""
    return [json.loads(r.value) for r in await read_records(bootstrap, topic, count, within)]
