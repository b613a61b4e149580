"""Helpers for poller tests: settings with a test's own topics, a poller in this process, and a
reader that follows the events topic (read_committed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from gateway.app.embedded_simulator import SIMULATOR_KEYS_ENV, simulator_vendor
from gateway.app.poller_role import run_poller_role
from gateway.settings import (
    GatewaySettings,
    KafkaSettings,
    OpsSettings,
    PollerSettings,
    RateLimitSettings,
    RedisSettings,
    RetrySettings,
)
from tests.integration.pipeline import committed_reader, running_role
from tests.services import create_topic, unique_topic

__all__ = [
    "EventReader",
    "PollerTopics",
    "make_poller_topics",
    "poller_env",
    "poller_settings",
    "poller_user_agents",
    "running_poller",
    "state_topic_contents",
]

FAST = {
    "participants_interval_s": 0.4,
    "statistics_interval_s": 0.8,
    "media_servers_interval_s": 0.6,
    "jitter": 0.0,
}


class PollerTopics:
    """One test's own events, state and lease topics, lease group and transactional id."""

    def __init__(self, prefix: str) -> None:
        base = unique_topic(prefix)
        self.events = f"{base}.events"
        self.state = f"{base}.state"
        self.lease = f"{base}.lease"
        self.group = f"{base}.lease-group"
        self.transactional_id = f"{base}.poller"


async def make_poller_topics(bootstrap: str, prefix: str) -> PollerTopics:
    """The topics; the poller creates its lease and state topics, the events topic is ours."""
    topics = PollerTopics(prefix)
    await create_topic(bootstrap, topics.events, 3)
    return topics


def poller_settings(
    bootstrap: str,
    vendor_url: str,
    topics: PollerTopics,
    *,
    instance_id: str = "poller-1",
    redis_url: str | None = None,
    rate_per_s: float | None = None,
    poller_share: float = 0.2,
    retry: RetrySettings | None = None,
    **poller: Any,
) -> GatewaySettings:
    """Settings for a poller under test: fast cadence, no jitter, limits off unless asked."""
    rate = (
        RateLimitSettings(
            rate_per_s=rate_per_s, burst=max(2, int(rate_per_s // 5)), poller_share=poller_share
        )
        if rate_per_s
        else RateLimitSettings(enabled=False)
    )
    return GatewaySettings(
        instance_id=instance_id,
        kafka=KafkaSettings(bootstrap_servers=bootstrap, events_topic=topics.events),
        vendor=simulator_vendor(vendor_url, read_timeout_s=2.0, rate_limit=rate),
        redis=RedisSettings(url=redis_url),
        retry=retry or RetrySettings(max_attempts=4, initial_wait_s=0.05, max_wait_s=0.2),
        ops=OpsSettings(enabled=False),
        poller=PollerSettings(
            **{
                **FAST,
                "state_topic": topics.state,
                "lease_topic": topics.lease,
                "lease_group": topics.group,
                "transactional_id": topics.transactional_id,
                "topic_replication_factor": -1,  # exercises the "brokers decide" path
                "failover_s": 12.0,
                **poller,
            }
        ),
    )


def poller_env(settings: GatewaySettings) -> dict[str, str]:
    """The same settings as GATEWAY_* variables, for a `gateway run --role poller` process."""
    p = settings.poller
    return {
        "GATEWAY_INSTANCE_ID": settings.instance_id,
        "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "GATEWAY_KAFKA__EVENTS_TOPIC": settings.kafka.events_topic,
        "GATEWAY_VENDOR__BASE_URL": settings.vendor.base_url,
        **SIMULATOR_KEYS_ENV,
        "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "false",
        "GATEWAY_RETRY__INITIAL_WAIT_S": "0.05",
        "GATEWAY_OPS__ENABLED": "false",
        "GATEWAY_LOG_LEVEL": "INFO",
        "GATEWAY_POLLER__PARTICIPANTS_INTERVAL_S": str(p.participants_interval_s),
        "GATEWAY_POLLER__STATISTICS_INTERVAL_S": str(p.statistics_interval_s),
        "GATEWAY_POLLER__MEDIA_SERVERS_INTERVAL_S": str(p.media_servers_interval_s),
        "GATEWAY_POLLER__JITTER": str(p.jitter),
        "GATEWAY_POLLER__STATE_TOPIC": p.state_topic,
        "GATEWAY_POLLER__LEASE_TOPIC": p.lease_topic,
        "GATEWAY_POLLER__LEASE_GROUP": p.lease_group,
        "GATEWAY_POLLER__TRANSACTIONAL_ID": p.transactional_id,
        "GATEWAY_POLLER__TOPIC_REPLICATION_FACTOR": str(p.topic_replication_factor),
        "GATEWAY_POLLER__FAILOVER_S": str(p.failover_s),
    }


def running_poller(settings: GatewaySettings) -> AbstractAsyncContextManager[asyncio.Task[None]]:
    """Run the poller role in this process for the duration of the block."""
    return running_role(run_poller_role, settings)


async def state_topic_contents(bootstrap: str, topic: str) -> tuple[int, dict[str, bytes | None]]:
    """The poller's state topic read to its end: (records read, latest value per key; None is
    a tombstone)."""
    consumer = committed_reader(bootstrap, topic)
    await consumer.start()
    try:
        latest: dict[str, bytes | None] = {}
        count = 0
        while batch := await consumer.getmany(timeout_ms=1000):
            for records in batch.values():
                for record in records:
                    latest[record.key.decode()] = record.value
                    count += 1
        return count, latest
    finally:
        await consumer.stop()


class EventReader:
    """Follows the events topic from the start; ``events`` grows as records arrive."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = committed_reader(bootstrap, topic)
        self.records: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """The parsed CloudEvents, in arrival order."""
        return [json.loads(r.value) for r in self.records]

    async def __aenter__(self) -> EventReader:
        await self._consumer.start()
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _follow(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for records in batch.values():
                self.records.extend(records)

    async def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        within: float = 20.0,
        what: str = "events",
    ) -> list[dict[str, Any]]:
        """Until ``predicate(events)`` holds; fails after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within
        while loop.time() < end:
            events = self.events
            if predicate(events):
                return events
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {what} within {within}s; got {_summary(self.events)}")

    async def wait_count(self, count: int, within: float = 20.0) -> list[dict[str, Any]]:
        """Until at least ``count`` events arrived."""
        return await self.wait_for(lambda e: len(e) >= count, within, f"{count} events")

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """The events that arrive during the next ``seconds``."""
        before = len(self.records)
        await asyncio.sleep(seconds)
        return self.events[before:]


def _summary(events: list[dict[str, Any]]) -> list[str]:
    return [f"{e['type']} {e['subject']}" for e in events]


async def poller_user_agents(sim: httpx.AsyncClient, since: int = 0) -> list[tuple[float, str]]:
    """(arrival time, user agent) of the vendor requests of pollers after ``since``."""
    out: list[tuple[float, str]] = []
    while True:
        page = (await sim.get("/_sim/requests", params={"since": since, "limit": 5000})).json()
        for entry in page["entries"]:
            agent = entry["headers"].get("user-agent", "")
            if " poller (" in agent:
                out.append((entry["ts"], agent))
            since = entry["seq"]
        if not page["more"]:
            return out
