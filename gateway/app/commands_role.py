"""Wiring of the commands role: store, accounts, handler, Kafka clients; run until stopped."""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from gateway.app.accounts import build_accounts
from gateway.app.kafka import make_consumer, make_producer
from gateway.commands.consumer import CommandConsumer, ConsumerConfig
from gateway.commands.handler import CommandHandler, HandlerConfig
from gateway.commands.retry import RetryPolicy
from gateway.idempotency import IdempotencyStore
from gateway.idempotency.redis_store import RedisIdempotencyStore
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.settings import GatewaySettings

__all__ = ["open_redis", "open_store", "run_commands_role"]

log = logging.getLogger("gateway.app")


def open_redis(settings: GatewaySettings) -> Redis | None:
    """The Redis client, when one is configured."""
    if settings.redis.url is None:
        return None
    password = settings.redis.password.get_secret_value() if settings.redis.password else None
    return Redis.from_url(settings.redis.url, password=password)


async def open_store(settings: GatewaySettings, redis: Redis | None) -> IdempotencyStore:
    """The configured idempotency store."""
    if settings.idempotency.backend == "redis":
        if redis is None:
            raise ValueError("idempotency backend redis needs GATEWAY_REDIS__URL")
        return RedisIdempotencyStore(redis)
    return await SqliteIdempotencyStore.open(settings.idempotency.sqlite_path)


async def run_commands_role(settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Consume commands until ``stop`` is set, then shut down within the grace period."""
    async with AsyncExitStack() as stack:
        redis = open_redis(settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        store = await open_store(settings, redis)
        if settings.idempotency.backend != "redis":
            stack.push_async_callback(store.close)
        accounts = build_accounts(settings, redis)
        for account in accounts.values():
            stack.push_async_callback(account.client.aclose)
        handler = CommandHandler(
            accounts,
            store,
            RetryPolicy(
                settings.retry.max_attempts,
                settings.retry.initial_wait_s,
                settings.retry.max_wait_s,
            ),
            HandlerConfig(
                # A new incarnation per start: after a crash, the claims of the dead process
                # must look foreign, so they lapse and get reconciled, never silently reused.
                owner=f"{settings.instance_id}:{uuid.uuid4().hex[:12]}",
                lease_s=settings.idempotency.lease_s,
                retention_s=settings.idempotency.retention_s,
                upload_inline_max=settings.commands.upload_inline_max_bytes,
                upload_source_max=settings.commands.upload_source_max_bytes,
            ),
        )
        kafka, cmd = settings.kafka, settings.commands
        client_id = f"{kafka.client_id}-{settings.instance_id}"
        extra = (
            {
                "transactional_id": f"{kafka.consumer_group}-{settings.instance_id}",
                "transaction_timeout_ms": cmd.transaction_timeout_ms,
            }
            if cmd.transactional
            else {}
        )
        producer = make_producer(kafka, client_id=client_id, **extra)
        consumer = make_consumer(kafka, client_id=client_id, group_id=kafka.consumer_group)
        await producer.start()
        stack.push_async_callback(producer.stop)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        engine = CommandConsumer(
            consumer,
            producer,
            handler,
            ConsumerConfig(
                commands_topic=kafka.commands_topic,
                results_topic=kafka.results_topic,
                dlq_topic=kafka.dlq_topic,
                group_id=kafka.consumer_group,
                max_in_flight=cmd.max_in_flight,
                max_buffered=cmd.max_buffered,
                commit_interval_s=cmd.commit_interval_ms / 1000,
                transactional=cmd.transactional,
                grace_period_s=cmd.grace_period_s,
                result_prefix=cmd.result_type_prefix,
                source=cmd.source,
            ),
        )
        log.info("commands role started as %s", settings.instance_id)
        await engine.run(stop)
        log.info("commands role stopped: %s", engine.stats)
