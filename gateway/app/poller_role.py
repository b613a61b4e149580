"""Wiring of the poller role: per account a vendor client and observer; the lease, the snapshot
store and the producer; run until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaProducer

from gateway import __version__, retry
from gateway.app.accounts import build_limiter
from gateway.app.kafka import make_consumer, make_producer
from gateway.app.redis_client import open_redis
from gateway.app.topics import (
    NEEDED_TOPICS,
    ROLE_TOPICS,
    TopicUse,
    await_topics,
    connected_admin,
    ensure_topics,
    topic_specs,
)
from gateway.app.vendor import build_vendor_client
from gateway.poller import (
    AccountPolling,
    Cadence,
    KafkaLease,
    KafkaStateStore,
    Kind,
    Observer,
    ObserverConfig,
    Poller,
    PollerConfig,
)
from gateway.settings import GatewaySettings, PollerSettings, VendorSettings
from gateway.vendor_api import VendorClient

__all__ = [
    "account_polling",
    "build_poller_client",
    "ensure_poller_topics",
    "poller_accounts",
    "run_poller_role",
]

log = logging.getLogger("gateway.app")

_STOP_GRACE_S = 5.0
# Shares of a participants interval. A cycle's first part (the room list, the final
# statistics of closed rooms, the participants of rooms whose users changed) is published when
# its reads are done, at most _URGENT_WINDOW after the cycle started: a join, leave, open or
# close waits for the next room list (up to one interval) plus that. The second part (the
# round-robin reads, statistics) ends by _READS_WINDOW, before the next cycle is due.
_URGENT_WINDOW = 0.3
_READS_WINDOW = 0.9


def build_poller_client(
    settings: GatewaySettings, vendor: VendorSettings, limiter: Any
) -> VendorClient:
    """The poller's own vendor client (own pool), whose user agent names this replica, so the
    vendor's request log tells which replica polls."""
    user_agent = f"vendor-gateway/{__version__} poller ({settings.instance_id})"
    return build_vendor_client(vendor, limiter, user_agent)


async def ensure_poller_topics(settings: GatewaySettings) -> None:
    """Create the lease topic (one partition) and the compacted state topic if missing (the
    same creation as `gateway topics ensure`, with the poller's replication setting)."""
    specs = topic_specs(settings, (TopicUse.POLLER_LEASE, TopicUse.POLLER_STATE))
    async with connected_admin(settings.kafka, timeout_s=10.0) as admin:
        await ensure_topics(
            admin, specs, replication_factor=settings.poller.topic_replication_factor
        )


def poller_accounts(settings: GatewaySettings) -> dict[str, VendorSettings]:
    """The accounts the poller reads: ``GATEWAY_POLLER__ACCOUNTS``, or every configured one."""
    names = settings.poller.accounts or settings.account_names()
    accounts = {}
    for name in names:
        vendor = settings.account(name)
        if vendor is None:
            raise ValueError(
                f"poller account {name!r} is not configured"
                f" (configured: {', '.join(settings.account_names())})"
            )
        accounts[name] = vendor
    return accounts


def _cadences(poller: PollerSettings, vendor: VendorSettings) -> dict[Kind, Cadence]:
    own = vendor.poller
    return {
        Kind.PARTICIPANTS: Cadence(
            own.participants_interval_s or poller.participants_interval_s, poller.jitter
        ),
        Kind.STATISTICS: Cadence(
            own.statistics_interval_s or poller.statistics_interval_s, poller.jitter
        ),
        Kind.MEDIA_SERVERS: Cadence(
            own.media_servers_interval_s or poller.media_servers_interval_s, poller.jitter
        ),
    }


def account_polling(
    settings: GatewaySettings, vendor: VendorSettings, client: VendorClient
) -> AccountPolling:
    """One account's observer (its client, so its lane of its rate limit) and cadences."""
    poller = settings.poller
    cadences = _cadences(poller, vendor)
    return AccountPolling(
        Observer(
            client,
            retry.vendor_calls(settings.retry),
            ObserverConfig(
                watch=frozenset(poller.rooms) if poller.rooms else None,
                max_rooms=poller.max_rooms_per_cycle,
                concurrency=poller.concurrency,
                cycle_timeout_s=poller.cycle_timeout_s,
                statistics_window_s=poller.statistics_window_s,
                # The first part of a cycle (room list, urgent reads) is published within
                # this share of an interval; the rest of the reads end before the next cycle.
                urgent_window_s=cadences[Kind.PARTICIPANTS].interval_s * _URGENT_WINDOW,
                reads_window_s=cadences[Kind.PARTICIPANTS].interval_s * _READS_WINDOW,
                final_statistics_grace_s=poller.final_statistics_grace_s,
            ),
        ),
        cadences,
    )


def _poller_parts(
    settings: GatewaySettings, accounts: dict[str, AccountPolling]
) -> tuple[KafkaLease, Poller]:
    kafka, poller = settings.kafka, settings.poller
    client_id = f"{kafka.client_id}-{settings.instance_id}-poller"
    consumer = functools.partial(make_consumer, kafka, client_id=client_id)
    lease = KafkaLease(
        consumer,
        topic=poller.lease_topic,
        group_id=poller.lease_group,
        failover_s=poller.failover_s,
    )

    def producer() -> AIOKafkaProducer:
        return make_producer(
            kafka,
            client_id=client_id,
            # The same id on every replica: a new leader's producer fences the old one's.
            transactional_id=poller.transactional_id,
            # A transaction is open only while a cycle publishes (seconds); if the leader
            # dies inside one, the next leader's start aborts it at once anyway.
            transaction_timeout_ms=60_000,
        )

    jitter = poller.jitter
    engine = Poller(
        PollerConfig(
            events_topic=kafka.events_topic,
            type_prefix=poller.event_type_prefix,
            source=poller.source,
            cadences={
                Kind.PARTICIPANTS: Cadence(poller.participants_interval_s, jitter),
                Kind.STATISTICS: Cadence(poller.statistics_interval_s, jitter),
                Kind.MEDIA_SERVERS: Cadence(poller.media_servers_interval_s, jitter),
            },
            fenced_backoff_s=poller.failover_s / 2,
        ),
        lease,
        accounts,
        KafkaStateStore(poller.state_topic, consumer, load_timeout_s=poller.state_load_timeout_s),
        producer,
    )
    return lease, engine


async def run_poller_role(settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Take part in the poller lease until ``stop``; poll while this replica holds it."""
    accounts = poller_accounts(settings)
    if settings.poller.create_topics:
        await ensure_poller_topics(settings)
    specs = topic_specs(settings, ROLE_TOPICS["poller"])
    with NEEDED_TOPICS.needing(spec.name for spec in specs):
        # The events topic is the contract's (`gateway topics ensure`, or the commands role's
        # GATEWAY_KAFKA__CREATE_TOPICS): wait for it loudly, as the other roles wait for theirs.
        if await await_topics(
            settings.kafka, specs, stop, create=settings.kafka.create_topics, who="poller role"
        ):
            await _poll(settings, accounts, stop)


async def _poll(
    settings: GatewaySettings, vendors: dict[str, VendorSettings], stop: asyncio.Event
) -> None:
    async with AsyncExitStack() as stack:
        redis = open_redis(settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        accounts = {}
        for name, vendor in vendors.items():
            # Each account its own limiter (its own budget, the poller's lane of it) and client.
            limiter = build_limiter(name, vendor.rate_limit, redis)
            client = build_poller_client(settings, vendor, limiter)
            stack.push_async_callback(client.aclose)
            accounts[name] = account_polling(settings, vendor, client)
        lease, engine = _poller_parts(settings, accounts)
        leave = asyncio.Event()
        lease_task = asyncio.create_task(lease.run(leave), name="poller-lease")
        engine_task = asyncio.create_task(engine.run(stop), name="poller-loop")
        log.info(
            "poller role started as %s for accounts %s", settings.instance_id, ", ".join(vendors)
        )
        stopped = asyncio.create_task(stop.wait(), name="poller-stop")
        try:
            # The loop ends on stop; the lease task only ends early when it fails.
            done, _ = await asyncio.wait(
                {lease_task, engine_task, stopped}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done - {stopped}:
                task.result()
            # A cycle in flight is cancelled at once by the loop; a producer start or a
            # snapshot load is not, so give those a moment before cancelling them.
            await asyncio.wait({engine_task}, timeout=_STOP_GRACE_S)
        finally:
            for task in (stopped, engine_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            leave.set()  # leaving the group hands the lease over at once
            with contextlib.suppress(asyncio.CancelledError):
                await lease_task
        log.info("poller role stopped: %s", engine.stats)
