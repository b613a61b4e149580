"""Wiring of the commands role: store, accounts, handler, Kafka clients; run until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from gateway.app.accounts import build_accounts
from gateway.app.kafka import make_consumer, make_producer
from gateway.app.redis_client import open_redis
from gateway.app.topics import NEEDED_TOPICS, ROLE_TOPICS, await_topics, topic_specs
from gateway.commands.consumer import CommandConsumer, ConsumerConfig
from gateway.commands.handler import CommandHandler, HandlerConfig
from gateway.commands.upload import SourcePolicy, UploadSources
from gateway.idempotency import IdempotencyStore
from gateway.idempotency.redis_store import RedisIdempotencyStore
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.settings import GatewaySettings
from gateway.telemetry.metrics import (
    IDEMPOTENCY_PURGED,
    IDEMPOTENCY_STORE_BYTES,
    IDEMPOTENCY_VOLUME_AVAILABLE_BYTES,
    IDEMPOTENCY_VOLUME_BYTES,
)

__all__ = [
    "maintain_sqlite_store",
    "open_store",
    "run_commands_role",
    "upload_source_policy",
]

log = logging.getLogger("gateway.app")


def upload_source_policy(settings: GatewaySettings) -> SourcePolicy:
    """Which FileUpload source_url the gateway fetches (none unless hosts are configured)."""
    cmd = settings.commands
    return SourcePolicy(
        hosts=tuple(cmd.upload_source_hosts),
        allow_http=cmd.upload_source_allow_http,
        allow_private=cmd.upload_source_allow_private,
        max_bytes=cmd.upload_source_max_bytes,
        timeout_s=cmd.upload_source_timeout_s,
        concurrency=cmd.upload_concurrency,
        spool_dir=cmd.upload_spool_dir,
    )


async def open_store(settings: GatewaySettings, redis: Redis | None) -> IdempotencyStore:
    """The configured idempotency store."""
    if settings.idempotency.backend == "redis":
        if redis is None:
            raise ValueError("idempotency backend redis needs GATEWAY_REDIS__URL")
        return RedisIdempotencyStore(redis, retention_s=settings.idempotency.retention_s)
    return await SqliteIdempotencyStore.open(settings.idempotency.sqlite_path)


async def maintain_sqlite_store(
    store: SqliteIdempotencyStore, retention_s: float, interval_s: float, stop: asyncio.Event
) -> None:
    """Until ``stop``: purge expired records and shrink the file now and every ``interval_s``,
    and publish the store's size (an alert watches it: docs/operations.md)."""
    while not stop.is_set():
        try:
            done = await store.maintain(retention_s)
        except Exception as exc:  # a busy or failing disk: claims will say so; try again later
            log.warning("idempotency store maintenance failed: %r", exc)
        else:
            IDEMPOTENCY_PURGED.inc(done.purged)
            IDEMPOTENCY_STORE_BYTES.set(done.size_bytes)
            IDEMPOTENCY_VOLUME_BYTES.set(done.volume_size_bytes)
            IDEMPOTENCY_VOLUME_AVAILABLE_BYTES.set(done.volume_available_bytes)
            if done.purged:
                log.info(
                    "idempotency store: purged %d expired records, %d bytes",
                    done.purged,
                    done.size_bytes,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def run_commands_role(settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Once its topics exist (created with ``GATEWAY_KAFKA__CREATE_TOPICS``, else waited for),
    consume commands until ``stop`` is set, then shut down within the grace period."""
    specs = topic_specs(settings, ROLE_TOPICS["commands"])
    with NEEDED_TOPICS.needing(spec.name for spec in specs):
        # The consumer starts only on topics that exist: started on a missing one it would
        # see it only at its next metadata refresh, minutes after it is created.
        if await await_topics(
            settings.kafka, specs, stop, create=settings.kafka.create_topics, who="commands role"
        ):
            await _consume_commands(settings, stop)


async def _consume_commands(settings: GatewaySettings, stop: asyncio.Event) -> None:
    async with AsyncExitStack() as stack:
        redis = open_redis(settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        store = await open_store(settings, redis)
        if settings.idempotency.backend != "redis":
            stack.push_async_callback(store.close)
        if isinstance(store, SqliteIdempotencyStore):
            # Redis expires its keys itself; the SQLite file must be purged by us.
            maintenance_stop = asyncio.Event()
            maintenance = asyncio.create_task(
                maintain_sqlite_store(
                    store,
                    settings.idempotency.retention_s,
                    settings.idempotency.purge_interval_s,
                    maintenance_stop,
                ),
                name="idempotency-maintenance",
            )

            async def stop_maintenance() -> None:
                maintenance_stop.set()
                await maintenance

            stack.push_async_callback(stop_maintenance)
        accounts = build_accounts(settings, redis)
        for account in accounts.values():
            stack.push_async_callback(account.client.aclose)
        # FileUpload.source_url: the download client lives as long as the role.
        uploads = UploadSources(upload_source_policy(settings))
        stack.push_async_callback(uploads.aclose)
        if uploads.policy.hosts:
            uploads.check_spool()
        handler = CommandHandler(
            accounts,
            store,
            HandlerConfig.from_settings(
                settings,
                # A new incarnation per start: after a crash, the claims of the dead process
                # must look foreign, so they lapse and get reconciled, never silently reused.
                owner=f"{settings.instance_id}:{uuid.uuid4().hex[:12]}",
                upload_source=uploads.policy,
            ),
            uploads,
        )
        kafka, cmd = settings.kafka, settings.commands
        client_id = f"{kafka.client_id}-{settings.instance_id}"
        extra = (
            {
                "transactional_id": f"{kafka.consumer_group}-{settings.instance_id}",
                "transaction_timeout_ms": cmd.transaction_timeout_ms,
                # A transaction begun right after the last one committed is refused with
                # CONCURRENT_TRANSACTIONS until the coordinator has written its markers (a few
                # ms; KAFKA-5477): retried after the default 100 ms, a quiet pipeline's result
                # waited a tenth of a second. The Java producer uses 20 ms for that case.
                "retry_backoff_ms": 10,
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
            ConsumerConfig.from_settings(settings),
        )
        log.info("commands role started as %s", settings.instance_id)
        await engine.run(stop)
        log.info("commands role stopped: %s", engine.stats)
