"""The demo's own topics and settings, and the three roles running in this process.

Each run names its topics, consumer groups, poller lease and transactional ids afresh
(``demo-<8 hex digits>``), so runs never see each other's records. The poller reads every
half second; the webhooks role listens on a free loopback port and trusts one sender,
``demo``, whose secret is made for this run and never printed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from gateway.app.accounts import share_limiters
from gateway.app.commands_role import run_commands_role
from gateway.app.demo.output import DemoError
from gateway.app.embedded_simulator import free_port, simulator_vendor
from gateway.app.kafka import KafkaUnreachableError, make_consumer
from gateway.app.poller_role import run_poller_role
from gateway.app.topics import TopicUse, connected_admin, ensure_topics, topic_specs
from gateway.app.webhooks_role import run_webhooks_role
from gateway.settings import (
    GatewaySettings,
    IdempotencySettings,
    KafkaSettings,
    OpsSettings,
    PollerSettings,
    WebhookSettings,
)

__all__ = ["SENDER", "DemoRoles", "create_topics", "demo_settings", "new_secret", "running_roles"]

#: The name of the demo's one webhook sender.
SENDER = "demo"
_PARTITIONS = 3

Role = Callable[[GatewaySettings, asyncio.Event], Coroutine[Any, Any, None]]
_ROLES: dict[str, Role] = {
    "commands": run_commands_role,
    "poller": run_poller_role,
    "webhooks": run_webhooks_role,
}


def new_secret() -> str:
    """A Standard Webhooks secret for this run only: ``whsec_`` + 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def demo_settings(
    run: str, bootstrap: str, vendor_url: str, room_id: str, secret: str, workdir: Path
) -> GatewaySettings:
    """Every role's settings for run ``run`` (topics ``demo-<run>.*``), watching ``room_id``."""
    base = f"demo-{run}"
    return GatewaySettings(
        instance_id=base,
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            commands_topic=f"{base}.commands",
            results_topic=f"{base}.results",
            events_topic=f"{base}.events",
            dlq_topic=f"{base}.dlq",
            consumer_group=base,
            topic_partitions=_PARTITIONS,
            dlq_partitions=_PARTITIONS,
            topic_replication_factor=1,
        ),
        vendor=simulator_vendor(vendor_url),
        idempotency=IdempotencySettings(sqlite_path=str(workdir / "idempotency.sqlite3")),
        poller=PollerSettings(
            participants_interval_s=0.5,
            statistics_interval_s=1.0,
            media_servers_interval_s=1.0,
            jitter=0.0,
            rooms=[room_id],
            lease_topic=f"{base}.poller-lease",
            lease_group=f"{base}.poller",
            transactional_id=f"{base}.poller",
            state_topic=f"{base}.poller-state",
            failover_s=12.0,  # the least the broker's minimum session timeout allows
        ),
        webhooks=WebhookSettings.model_validate(
            {"host": "127.0.0.1", "port": free_port(), "senders": {SENDER: [secret]}}
        ),
        ops=OpsSettings(enabled=False),
    )


async def create_topics(settings: GatewaySettings, within: float = 20.0) -> None:
    """The commands, results, events and DLQ topics (the poller makes its lease and state),
    once each partition's leader answers; :class:`DemoError` if Kafka does not."""
    try:
        await _create_topics(settings, within)
    except (KafkaError, KafkaUnreachableError, TimeoutError) as exc:
        raise DemoError(
            f"no Kafka at {settings.kafka.bootstrap_servers} ({type(exc).__name__}):"
            " run `make services` first"
        ) from None


async def _create_topics(settings: GatewaySettings, within: float) -> None:
    kafka = settings.kafka
    specs = topic_specs(
        settings, (TopicUse.COMMANDS, TopicUse.RESULTS, TopicUse.EVENTS, TopicUse.DLQ)
    )
    async with connected_admin(kafka, within) as admin:  # as `gateway topics ensure` does
        await ensure_topics(admin, specs, replication_factor=kafka.topic_replication_factor)
    probe = make_consumer(kafka, client_id="demo-topics", group_id=None)
    await probe.start()
    try:
        partitions = [TopicPartition(s.name, p) for s in specs for p in range(s.partitions)]
        # ListOffsets is retried until each leader serves it, quietly (a consumer's first
        # offset reset during that gap is logged as an error).
        await asyncio.wait_for(probe.end_offsets(partitions), within)
    finally:
        await probe.stop()


@dataclass
class DemoRoles:
    """The roles' tasks by name."""

    tasks: dict[str, asyncio.Task[None]]

    def check(self) -> None:
        """Raise if a role has stopped (they run until the demo ends)."""
        for name, task in self.tasks.items():
            if task.done():
                problem = "cancelled" if task.cancelled() else repr(task.exception())
                raise DemoError(f"the {name} role stopped ({problem})")


@contextlib.asynccontextmanager
async def running_roles(settings: GatewaySettings) -> AsyncIterator[DemoRoles]:
    """Run commands, poller and webhooks in this process, as ``gateway run`` does, until the
    block ends; then stop them and wait for their shutdown."""
    roles = contextvars.copy_context()  # the caller's context stays as it was
    roles.run(share_limiters, list(_ROLES))  # one vendor budget for the roles, as `gateway run`
    stop = asyncio.Event()
    tasks = {
        name: asyncio.create_task(role(settings, stop), name=f"demo-{name}", context=roles)
        for name, role in _ROLES.items()
    }
    try:
        yield DemoRoles(tasks)
    finally:
        stop.set()
        await asyncio.wait(tasks.values(), timeout=30)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
