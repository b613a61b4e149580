"""The gateway's Kafka topics on the real broker: `gateway topics` and `gateway topics ensure`,
and roles started before their topics exist (they wait, say so, and start once they do).

Every test names its topics afresh. The test broker auto-creates topics a client asks about
(`auto.create.topics.enable=true`), so these tests also show that nothing here does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from gateway.app.cli import ExitCode
from gateway.app.embedded_simulator import free_port
from gateway.app.ops_server import build_ops_app
from gateway.app.readiness import TOPICS_CHECK, Readiness
from gateway.app.send import build_envelope, send_command
from gateway.app.topics import (
    ROLE_TOPICS,
    TopicUse,
    cluster_topics,
    connected_admin,
    ensure_gateway_topics,
    ensure_topics,
    topic_specs,
)
from gateway.app.webhooks_role import run_webhooks_role
from gateway.settings import GatewaySettings, KafkaSettings, PollerSettings, WebhookSettings
from rigkit.topics import CommandTopics, unique_name
from tests.integration.pipeline import gateway_settings, running_gateway, running_role

GATEWAY = Path(sys.executable).parent / "gateway"

#: From the topics' creation to the first command's result, at most (the roles look every
#: second; a consumer started on a missing topic would see it minutes later).
PICKUP_BOUND_S = 10.0


def fresh_settings(bootstrap: str, prefix: str) -> GatewaySettings:
    """Settings naming six topics no earlier run used, three partitions (DLQ: two)."""
    base = unique_name(prefix, 12)
    return GatewaySettings(
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            commands_topic=f"{base}.commands",
            results_topic=f"{base}.results",
            events_topic=f"{base}.events",
            dlq_topic=f"{base}.dlq",
            consumer_group=f"{base}.gateway",
            topic_partitions=3,
            dlq_partitions=2,
        ),
        poller=PollerSettings(lease_topic=f"{base}.lease", state_topic=f"{base}.state"),
    )


def topic_names(settings: GatewaySettings) -> list[str]:
    return [spec.name for spec in topic_specs(settings)]


def cli_env(settings: GatewaySettings) -> dict[str, str]:
    """This process's environment without GATEWAY_*, plus the settings' Kafka and topics."""
    kafka, poller = settings.kafka, settings.poller
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "GATEWAY_KAFKA__COMMANDS_TOPIC": kafka.commands_topic,
        "GATEWAY_KAFKA__RESULTS_TOPIC": kafka.results_topic,
        "GATEWAY_KAFKA__EVENTS_TOPIC": kafka.events_topic,
        "GATEWAY_KAFKA__DLQ_TOPIC": kafka.dlq_topic,
        "GATEWAY_KAFKA__CONSUMER_GROUP": kafka.consumer_group,
        "GATEWAY_KAFKA__TOPIC_PARTITIONS": str(kafka.topic_partitions),
        "GATEWAY_KAFKA__DLQ_PARTITIONS": str(kafka.dlq_partitions),
        "GATEWAY_POLLER__LEASE_TOPIC": poller.lease_topic,
        "GATEWAY_POLLER__STATE_TOPIC": poller.state_topic,
    }
    return env


async def gateway_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``.venv/bin/gateway args`` (without blocking this loop): exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        str(GATEWAY),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def existing(bootstrap: str, names: Iterable[str]) -> set[str]:
    """Those of ``names`` the broker has (asked without creating any)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(names) & set(await admin.list_topics())
    finally:
        await admin.close()


@asynccontextmanager
async def deleted_afterwards(bootstrap: str, names: list[str]) -> AsyncIterator[None]:
    """Delete the topics ``names`` that exist once the block ends (the broker stays tidy)."""
    try:
        yield
    finally:
        if there := await existing(bootstrap, names):
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.delete_topics(sorted(there))
            finally:
                await admin.close()


async def test_topics_reports_missing_and_ensure_creates_them_once(kafka_bootstrap: str) -> None:
    """`gateway topics` exits 4 naming every missing topic; `ensure --dry-run` creates nothing;
    `ensure` creates each with the settings' partitions and the configs the gateway relies on;
    a second `ensure` is a no-op and `gateway topics` then exits 0."""
    settings = fresh_settings(kafka_bootstrap, "topics-cli")
    names = topic_names(settings)
    env = cli_env(settings)
    async with deleted_afterwards(kafka_bootstrap, names):
        code, out, err = await gateway_cli(env, "topics")
        assert code == ExitCode.TOPICS_MISSING == 4, err
        for name in names:
            assert any(line.startswith(name) and " missing " in line for line in out.splitlines())
        assert err.splitlines() == [
            "gateway topics: 6 of 6 topics missing: create them with `gateway topics ensure`"
        ]
        code, out, _ = await gateway_cli(env, "topics", "--json")
        assert code == ExitCode.TOPICS_MISSING
        assert json.loads(out)["missing"] == names

        code, out, err = await gateway_cli(env, "topics", "ensure", "--dry-run")
        assert code == ExitCode.OK, err
        assert [line.split(":")[0] for line in out.splitlines()] == [
            f"would create {name}" for name in names
        ]
        assert await existing(kafka_bootstrap, names) == set()

        code, out, err = await gateway_cli(env, "topics", "ensure")
        assert code == ExitCode.OK, err
        assert len(out.splitlines()) == 6
        assert await existing(kafka_bootstrap, names) == set(names)
        state = {s.spec.name: s for s in await cluster_topics(settings, 10)}
        kafka, poller = settings.kafka, settings.poller
        expected = {
            kafka.commands_topic: (3, "delete"),
            kafka.results_topic: (3, "delete"),
            kafka.events_topic: (3, "delete"),
            kafka.dlq_topic: (2, "delete"),
            poller.lease_topic: (1, "delete"),
            poller.state_topic: (1, "compact"),
        }
        assert {
            name: (s.partitions, s.configs["cleanup.policy"]) for name, s in state.items()
        } == expected
        assert {s.replication_factor for s in state.values()} == {1}, "one broker: -1 is 1"

        code, out, err = await gateway_cli(env, "topics", "ensure")
        assert (code, out.strip(), err) == (ExitCode.OK, "nothing to do: every topic exists", "")
        code, out, _ = await gateway_cli(env, "topics", "--json")
        assert code == ExitCode.OK
        assert json.loads(out)["ok"] is True


async def test_ensure_alters_only_when_told_and_never_lowers(kafka_bootstrap: str) -> None:
    """A compacted setting gone wrong and too few partitions: `gateway topics` says the topic
    differs (exit 5), `ensure` leaves it, `ensure --alter` adds partitions and sets
    cleanup.policy while keeping the topic's other overrides; fewer partitions in the settings
    never remove any."""
    settings = fresh_settings(kafka_bootstrap, "topics-alter")
    names = topic_names(settings)
    async with deleted_afterwards(kafka_bootstrap, names):
        await ensure_gateway_topics(settings, alter=False, dry_run=False, timeout_s=10)
        state_topic = settings.poller.state_topic
        async with connected_admin(settings.kafka, 10) as admin:
            await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC,
                        state_topic,
                        {"cleanup.policy": "delete", "retention.ms": "3600000"},
                    )
                ]
            )
        code, out, err = await gateway_cli(cli_env(settings), "topics")
        assert code == ExitCode.TOPICS_DIFFER == 5, out + err
        assert f"{state_topic}: cleanup.policy is delete, the gateway relies on compact" in out

        wider = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"topic_partitions": 5})}
        )
        actions, _ = await ensure_gateway_topics(wider, alter=False, dry_run=False, timeout_s=10)
        assert actions == []
        actions, after = await ensure_gateway_topics(wider, alter=True, dry_run=False, timeout_s=10)
        assert sorted(a.describe() for a in actions) == sorted(
            [
                f"add partitions to {settings.kafka.commands_topic}: 3 -> 5",
                f"add partitions to {settings.kafka.results_topic}: 3 -> 5",
                f"add partitions to {settings.kafka.events_topic}: 3 -> 5",
                f"set on {state_topic}: cleanup.policy=compact",
            ]
        )
        by_name = {s.spec.name: s for s in after}
        assert by_name[settings.kafka.commands_topic].partitions == 5
        assert by_name[state_topic].configs["cleanup.policy"] == "compact"
        assert by_name[state_topic].overrides["retention.ms"] == "3600000", "overrides kept"
        assert all(s.status == "ok" for s in after)

        narrower = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"topic_partitions": 1})}
        )
        actions, after = await ensure_gateway_topics(
            narrower, alter=True, dry_run=False, timeout_s=10
        )
        assert actions == []
        assert {s.spec.name: s.partitions for s in after}[settings.kafka.commands_topic] == 5


async def _logged(caplog: pytest.LogCaptureFixture, text: str, within_s: float = 10) -> str:
    """The first WARNING that contains ``text``, waiting for it up to ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.levelno == logging.WARNING and text in record.getMessage():
                return record.getMessage()
        await asyncio.sleep(0.1)
    pytest.fail(f"no WARNING with {text!r} within {within_s} s: {caplog.messages}")


async def _readyz(settings: GatewaySettings) -> httpx.Response:
    """One /readyz answer of the ops endpoint as `gateway run` builds it for these settings."""
    readiness = Readiness(settings)
    transport = httpx.ASGITransport(app=build_ops_app(readiness.checks, cache_s=0))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
            return await http.get("/readyz")
    finally:
        await readiness.aclose()


async def test_commands_role_waits_for_its_topics_and_starts_within_seconds(
    kafka_bootstrap: str,
    simulator_url: str,
    sim: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Started before its topics exist, the commands role says which are missing and how to
    create them, /readyz is 503 with the check `topics` failed, and nothing creates them
    behind its back; once the test creates them, a command's result comes within 10 s of
    their creation, and `gateway send --wait` (a process of its own) gets its result."""
    caplog.set_level(logging.WARNING, logger="gateway.app")
    topics = CommandTopics.fresh("topics-wait", digits=12)
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    specs = topic_specs(settings, ROLE_TOPICS["commands"])
    names = [spec.name for spec in specs]
    async with deleted_afterwards(kafka_bootstrap, names), running_gateway(settings) as role:
        warning = await _logged(caplog, topics.commands)
        assert "commands role waits for Kafka topics" in warning
        assert all(name in warning for name in names)
        assert "`gateway topics ensure`" in warning
        assert "GATEWAY_KAFKA__CREATE_TOPICS" in warning
        answer = await _readyz(settings)
        assert answer.status_code == 503
        assert answer.json()["checks"][TOPICS_CHECK] == "failed: MissingTopicsError"
        assert await existing(kafka_bootstrap, names) == set(), "nobody created them meanwhile"
        assert not role.done()

        async with connected_admin(settings.kafka, 10) as admin:
            await ensure_topics(admin, specs, replication_factor=1)
        created = time.monotonic()
        command = build_envelope("RoomList", {})
        result = await send_command(settings, command, key=None, wait_s=PICKUP_BOUND_S)
        took = time.monotonic() - created
        assert result is not None, f"no result within {PICKUP_BOUND_S} s of the topics' creation"
        assert result["data"]["command_id"] == command["id"]
        assert took < PICKUP_BOUND_S
        answer = await _readyz(settings)
        assert answer.json()["checks"][TOPICS_CHECK] == "ok", answer.text

        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env |= topics.kafka_env(kafka_bootstrap)
        code, out, err = await gateway_cli(env, "send", "RoomList", "--wait", "30")
        assert code == ExitCode.OK, err
        event = json.loads(out)
        assert event["type"] == "avd.command.succeeded"
        assert event["subject"] == "RoomList"


async def test_webhooks_role_waits_for_its_topics_and_readyz_says_so(
    kafka_bootstrap: str, simulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The webhooks role (it writes commands and reads results) waits for both topics instead
    of failing, /readyz names the check `topics`, and it serves once they exist."""
    caplog.set_level(logging.WARNING, logger="gateway.app")
    topics = CommandTopics.fresh("topics-webhooks", digits=12)
    port = free_port()
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics).model_copy(
        update={"webhooks": WebhookSettings(port=port)}
    )
    specs = topic_specs(settings, ROLE_TOPICS["webhooks"])
    names = [spec.name for spec in specs]
    async with (
        deleted_afterwards(kafka_bootstrap, names),
        running_role(run_webhooks_role, settings) as role,
    ):
        warning = await _logged(caplog, "webhooks role waits for Kafka topics")
        assert all(name in warning for name in names)
        answer = await _readyz(settings)
        assert answer.status_code == 503
        assert answer.json()["checks"][TOPICS_CHECK] == "failed: MissingTopicsError"
        async with connected_admin(settings.kafka, 10) as admin:
            await ensure_topics(admin, specs, replication_factor=1)
        created = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            while True:
                assert not role.done()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() - created < PICKUP_BOUND_S, "not serving in time"
                await asyncio.sleep(0.1)


async def test_commands_role_creates_its_topics_when_told(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """GATEWAY_KAFKA__CREATE_TOPICS: the commands role creates its own three topics (and no
    other) with the settings' partitions, then processes commands."""
    topics = CommandTopics.fresh("topics-create", digits=12)
    base = gateway_settings(kafka_bootstrap, simulator_url, topics)
    kafka = base.kafka.model_copy(update={"create_topics": True, "topic_partitions": 2})
    settings = base.model_copy(update={"kafka": kafka})
    mine = [spec.name for spec in topic_specs(settings, ROLE_TOPICS["commands"])]
    others = [spec.name for spec in topic_specs(settings, ROLE_TOPICS["poller"])]
    # (the poller's topics may have default names that another test already created)
    others_before = await existing(kafka_bootstrap, others)
    async with deleted_afterwards(kafka_bootstrap, mine), running_gateway(settings):
        deadline = time.monotonic() + PICKUP_BOUND_S
        while await existing(kafka_bootstrap, mine) != set(mine):
            assert time.monotonic() < deadline, "the role did not create its topics"
            await asyncio.sleep(0.1)
        command = build_envelope("RoomList", {})
        result = await send_command(settings, command, key=None, wait_s=PICKUP_BOUND_S)
        assert result is not None
        assert result["type"] == "avd.command.succeeded"
        state = {s.spec.name: s for s in await cluster_topics(settings, 10)}
        assert [state[name].partitions for name in mine] == [2, 2, 1]  # commands, results, DLQ
        assert {state[name].configs["cleanup.policy"] for name in mine} == {"delete"}
        created_others = {n for n in others if state[n].exists} - set(others_before)
        assert not created_others, "only its own topics"


async def test_poller_role_waits_for_the_events_topic_and_emits_once_it_exists(
    kafka_bootstrap: str, simulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The poller makes its own lease and state topics; the contract's events topic it waits
    for, loudly, and its first cycle's events are on Kafka within seconds of its creation
    (read back with `gateway events`' reader)."""
    from gateway.app.events_tail import tail_events
    from gateway.app.poller_role import run_poller_role
    from tests.integration.poller_support import PollerTopics, poller_settings

    caplog.set_level(logging.WARNING, logger="gateway.app")
    topics = PollerTopics("topics-poller")  # the events topic not created
    settings = poller_settings(kafka_bootstrap, simulator_url, topics)
    events = topic_specs(settings, [TopicUse.EVENTS])
    async with (
        deleted_afterwards(kafka_bootstrap, [topics.events, topics.state, topics.lease]),
        running_role(run_poller_role, settings) as role,
    ):
        warning = await _logged(caplog, "poller role waits for Kafka topics")
        assert topics.events in warning
        assert await existing(kafka_bootstrap, [topics.events]) == set()
        answer = await _readyz(settings)
        assert answer.status_code == 503
        assert answer.json()["checks"][TOPICS_CHECK] == "failed: MissingTopicsError"
        async with connected_admin(settings.kafka, 10) as admin:
            await ensure_topics(admin, events, replication_factor=1)
        lines: list[str] = []
        printed = await tail_events(
            settings, since_s=60, max_events=1, wait_s=PICKUP_BOUND_S, emit=lines.append
        )
        assert not role.done()
        assert printed == 1, "no event within 10 s of the events topic's creation"
        assert json.loads(lines[0])["type"].startswith("avd.")
