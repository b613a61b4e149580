"""The Kafka topics the gateway uses: which the settings name, what the cluster has of them,
and creating what is missing.

``gateway topics`` shows them, ``gateway topics ensure`` creates the missing ones (and, with
``--alter``, adds partitions and sets the configs the gateway relies on), the commands and
webhooks roles wait for theirs at start (:func:`await_topics`), and ``/readyz`` reports the
check ``topics`` while a role of the process lacks one (:data:`NEEDED_TOPICS`).

Why the admin calls are as they are (aiokafka 0.14):

- Existence is read from a metadata request for *all* topics (``list_topics``). A metadata
  request that names a topic (``describe_topics``) asks the broker to create it where
  ``auto.create.topics.enable`` is on, so a check would create topics with the broker's
  defaults; only topics known to exist are described.
- AlterConfigs (the only config change aiokafka speaks) replaces *every* override of a
  topic: the current overrides are read and sent back together with the change.
- CreateTopics up to v3 cannot ask for the broker's default replication factor, hence
  ``topic_replication_factor: -1`` = three copies, or as many as the cluster has brokers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code

from gateway.app.kafka import make_admin, start_client
from gateway.errors import GatewayError
from gateway.settings import GatewaySettings, KafkaSettings

__all__ = [
    "NEEDED_TOPICS",
    "ROLE_TOPICS",
    "MissingTopicsError",
    "NeededTopics",
    "TopicAction",
    "TopicSpec",
    "TopicState",
    "TopicUse",
    "await_topics",
    "cluster_topics",
    "connected_admin",
    "ensure_gateway_topics",
    "ensure_topics",
    "inspect_topics",
    "missing_topics",
    "render_actions",
    "render_table",
    "require_topics",
    "states_json",
    "topic_specs",
]

log = logging.getLogger("gateway.app")

#: While a role waits for its topics: how often it looks, and how often it says so.
WAIT_POLL_S = 1.0
WAIT_LOG_INTERVAL_S = 10.0

#: Configs ``gateway topics`` shows for every topic.
SHOWN_CONFIGS = ("cleanup.policy", "min.insync.replicas")

_TOPIC_ALREADY_EXISTS = 36
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs v1+ config_source: set on the topic itself


class TopicUse(StrEnum):
    """What the gateway uses a topic for."""

    COMMANDS = "commands"
    RESULTS = "results"
    EVENTS = "events"
    DLQ = "dlq"
    POLLER_LEASE = "poller-lease"
    POLLER_STATE = "poller-state"


#: The topics each role reads or writes.
ROLE_TOPICS: dict[str, tuple[TopicUse, ...]] = {
    "commands": (TopicUse.COMMANDS, TopicUse.RESULTS, TopicUse.DLQ),
    "webhooks": (TopicUse.COMMANDS, TopicUse.RESULTS),
    "poller": (TopicUse.EVENTS, TopicUse.POLLER_LEASE, TopicUse.POLLER_STATE),
}

# Compaction would drop commands not yet done and results and events consumers still need
# (docs/topics.md: a consumer builds its view from the events topic alone); the poller's
# snapshot is the one topic where only the last record per key matters.
_DELETE = {"cleanup.policy": "delete"}
_COMPACT = {"cleanup.policy": "compact"}
# The poller's snapshot deletes a closed room's record with a tombstone. Compaction only cleans
# closed segments, so roll them hourly (not weekly) and clean at 10 % dead records: a new
# leader's load then reads about the open rooms, not the history. Tombstones stay an hour, far
# longer than a load (GATEWAY_POLLER__STATE_LOAD_TIMEOUT_S), so a load never misses one.
_STATE_COMPACTION = {
    "segment.ms": "3600000",
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": "3600000",
}


class MissingTopicsError(GatewayError):
    """Topics the gateway needs do not exist."""

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = tuple(topics)
        super().__init__(f"Kafka topic(s) missing: {', '.join(self.topics)}")


@dataclass(frozen=True)
class TopicSpec:
    """A topic the gateway uses and what it needs of it."""

    use: TopicUse
    name: str
    setting: str  # the variable that names it
    partitions: int  # created with this many
    configs: Mapping[str, str]  # configs the gateway relies on: set at creation and by --alter
    # Set at creation only: tuning an operator may change without the gateway minding.
    tuning: Mapping[str, str] = field(default_factory=dict)


def topic_specs(
    settings: GatewaySettings, uses: Iterable[TopicUse] = tuple(TopicUse)
) -> list[TopicSpec]:
    """The topics of ``uses`` as the settings name and size them."""
    kafka, poller = settings.kafka, settings.poller
    specs = {
        spec.use: spec
        for spec in (
            TopicSpec(
                TopicUse.COMMANDS,
                kafka.commands_topic,
                "GATEWAY_KAFKA__COMMANDS_TOPIC",
                kafka.topic_partitions,
                _DELETE,
            ),
            TopicSpec(
                TopicUse.RESULTS,
                kafka.results_topic,
                "GATEWAY_KAFKA__RESULTS_TOPIC",
                kafka.topic_partitions,
                _DELETE,
            ),
            TopicSpec(
                TopicUse.EVENTS,
                kafka.events_topic,
                "GATEWAY_KAFKA__EVENTS_TOPIC",
                kafka.topic_partitions,
                _DELETE,
            ),
            TopicSpec(
                TopicUse.DLQ,
                kafka.dlq_topic,
                "GATEWAY_KAFKA__DLQ_TOPIC",
                kafka.dlq_partitions,
                _DELETE,
            ),
            # One partition each, as the poller makes them (GATEWAY_POLLER__CREATE_TOPICS).
            TopicSpec(
                TopicUse.POLLER_LEASE, poller.lease_topic, "GATEWAY_POLLER__LEASE_TOPIC", 1, {}
            ),
            TopicSpec(
                TopicUse.POLLER_STATE,
                poller.state_topic,
                "GATEWAY_POLLER__STATE_TOPIC",
                1,
                _COMPACT,
                _STATE_COMPACTION,
            ),
        )
    }
    return [specs[use] for use in uses]


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it (``partitions`` None: it does not exist)."""

    spec: TopicSpec
    partitions: int | None = None
    replication_factor: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)  # SHOWN_CONFIGS, as reported
    overrides: Mapping[str, str] = field(default_factory=dict)  # set on the topic itself

    @property
    def exists(self) -> bool:
        return self.partitions is not None

    def config_drift(self) -> dict[str, str]:
        """Relied-on config -> the value the gateway wants, where the topic differs."""
        return {
            name: wanted
            for name, wanted in self.spec.configs.items()
            if _policy(self.configs.get(name, "")) != _policy(wanted)
        }

    def problems(self) -> list[str]:
        """What keeps the gateway from working with this topic as it is."""
        if not self.exists:
            return [f"missing ({self.spec.setting})"]
        found = [
            f"{name} is {self.configs.get(name) or 'unset'}, the gateway relies on {wanted}"
            f" (`gateway topics ensure --alter` sets it)"
            for name, wanted in self.config_drift().items()
        ]
        isr = self.configs.get("min.insync.replicas", "")
        if isr.isdigit() and self.replication_factor and int(isr) > self.replication_factor:
            found.append(
                f"min.insync.replicas {isr} > replication factor {self.replication_factor}:"
                " every write (acks=all) fails; lower it on the topic or add replicas"
            )
        return found

    def notes(self) -> list[str]:
        """What differs from the settings without breaking anything."""
        if self.partitions is not None and self.partitions < self.spec.partitions:
            return [
                f"{self.partitions} partitions, the settings ask for {self.spec.partitions}"
                " (`gateway topics ensure --alter` adds them)"
            ]
        return []

    @property
    def status(self) -> Literal["ok", "missing", "differs"]:
        if not self.exists:
            return "missing"
        return "differs" if self.problems() else "ok"


def _policy(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


@contextlib.asynccontextmanager
async def connected_admin(
    kafka: KafkaSettings, timeout_s: float
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client (:class:`~gateway.app.kafka.KafkaUnreachableError` if no broker
    answers within ``timeout_s``), closed after the block."""
    admin = make_admin(kafka, timeout_s=timeout_s)
    await start_client(admin, kafka, timeout_s=timeout_s)
    try:
        yield admin
    finally:
        await admin.close()


async def missing_topics(admin: AIOKafkaAdminClient, names: Iterable[str]) -> list[str]:
    """Those of ``names`` the cluster does not have (asked without creating any)."""
    existing = set(await admin.list_topics())
    return sorted(set(names) - existing)


async def require_topics(kafka: KafkaSettings, names: Iterable[str], timeout_s: float) -> None:
    """Raise :class:`MissingTopicsError` unless every topic of ``names`` exists."""
    async with connected_admin(kafka, timeout_s) as admin:
        missing = await missing_topics(admin, names)
    if missing:
        raise MissingTopicsError(missing)


async def inspect_topics(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]
) -> list[TopicState]:
    """Each topic of ``specs`` as the cluster has it."""
    existing = set(await admin.list_topics())
    present = sorted({s.name for s in specs if s.name in existing})
    if not present:
        return [TopicState(spec) for spec in specs]
    described = {t["topic"]: t for t in await admin.describe_topics(present)}
    configs = await _topic_configs(admin, present)
    states = []
    for spec in specs:
        topic = described.get(spec.name)
        if topic is None or topic["error_code"] != 0:
            states.append(TopicState(spec))
            continue
        partitions = topic["partitions"]
        shown, overrides = configs.get(spec.name, ({}, {}))
        states.append(
            TopicState(
                spec,
                partitions=len(partitions),
                replication_factor=max((len(p["replicas"]) for p in partitions), default=0),
                configs=shown,
                overrides=overrides,
            )
        )
    return states


async def _topic_configs(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Topic -> (its SHOWN_CONFIGS, its own overrides)."""
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise for_code(resource["error_code"])(
                    f"describing the configs of {resource['resource_name']}:"
                    f" {resource['error_message']}"
                )
            shown: dict[str, str] = {}
            overrides: dict[str, str] = {}
            for entry in resource["config_entries"]:
                name, value = entry["config_names"], entry["config_value"]
                if name in SHOWN_CONFIGS:
                    shown[name] = value
                # v0 of the response says is_default, later ones config_source.
                own = (
                    entry["config_source"] == _DYNAMIC_TOPIC_CONFIG
                    if "config_source" in entry
                    else not entry["is_default"] and not entry["read_only"]
                )
                if own and value is not None:
                    overrides[name] = value
            out[resource["resource_name"]] = (shown, overrides)
    return out


@dataclass(frozen=True)
class TopicAction:
    """One change ``ensure`` makes (or, with ``--dry-run``, would make)."""

    kind: Literal["create", "add-partitions", "set-configs"]
    topic: str
    partitions: int = 0  # create, add-partitions: the count wanted
    replication_factor: int = 0  # create
    configs: Mapping[str, str] = field(default_factory=dict)  # create, set-configs: the changes
    keep: Mapping[str, str] = field(default_factory=dict)  # set-configs: overrides kept
    before: int = 0  # add-partitions: the count now

    def describe(self) -> str:
        settings = "".join(f", {k}={v}" for k, v in self.configs.items())
        if self.kind == "create":
            return (
                f"create {self.topic}: {self.partitions} partition"
                f"{'' if self.partitions == 1 else 's'}, replication factor"
                f" {self.replication_factor}{settings}"
            )
        if self.kind == "add-partitions":
            return f"add partitions to {self.topic}: {self.before} -> {self.partitions}"
        return f"set on {self.topic}: " + ", ".join(f"{k}={v}" for k, v in self.configs.items())


def plan_ensure(
    states: Sequence[TopicState], *, replication_factor: int, alter: bool
) -> list[TopicAction]:
    """What to do: create the missing topics; with ``alter``, add partitions where there are
    fewer than wanted (never fewer than now) and set the configs the gateway relies on."""
    actions: list[TopicAction] = []
    for state in states:
        spec = state.spec
        if not state.exists:
            actions.append(
                TopicAction(
                    "create",
                    spec.name,
                    partitions=spec.partitions,
                    replication_factor=replication_factor,
                    configs={**spec.tuning, **spec.configs},
                )
            )
            continue
        if not alter:
            continue
        if state.partitions is not None and state.partitions < spec.partitions:
            actions.append(
                TopicAction(
                    "add-partitions", spec.name, partitions=spec.partitions, before=state.partitions
                )
            )
        if drift := state.config_drift():
            actions.append(
                TopicAction("set-configs", spec.name, configs=drift, keep=dict(state.overrides))
            )
    return actions


async def apply_actions(admin: AIOKafkaAdminClient, actions: Sequence[TopicAction]) -> None:
    """Carry ``actions`` out; a topic created meanwhile by someone else is fine."""
    creates = [
        NewTopic(a.topic, a.partitions, a.replication_factor, topic_configs=dict(a.configs))
        for a in actions
        if a.kind == "create"
    ]
    if creates:
        response = await admin.create_topics(creates)
        for error in response.to_object()["topic_errors"]:
            if error["error_code"] not in (0, _TOPIC_ALREADY_EXISTS):
                raise for_code(error["error_code"])(
                    f"could not create topic {error['topic']}: {error['error_message']}"
                )
    grow = {a.topic: NewPartitions(a.partitions) for a in actions if a.kind == "add-partitions"}
    if grow:
        await admin.create_partitions(grow)  # raises on a refusal
    for action in (a for a in actions if a.kind == "set-configs"):
        configs = {**action.keep, **action.configs}
        resource = ConfigResource(ConfigResourceType.TOPIC, action.topic, configs)
        for response in await admin.alter_configs([resource]):
            for result in response.to_object()["resources"]:
                if result["error_code"]:
                    raise for_code(result["error_code"])(
                        f"could not set {configs} on {action.topic}: {result['error_message']}"
                    )


async def replication_for(admin: AIOKafkaAdminClient, wanted: int) -> int:
    """``wanted``, or for -1 three copies where the cluster has three brokers, else as many
    as it has."""
    if wanted >= 1:
        return wanted
    brokers = (await admin.describe_cluster())["brokers"]
    return min(3, max(1, len(brokers)))


async def ensure_topics(
    admin: AIOKafkaAdminClient,
    specs: Sequence[TopicSpec],
    *,
    replication_factor: int,
    alter: bool = False,
    dry_run: bool = False,
) -> tuple[list[TopicAction], list[TopicState]]:
    """Create what is missing of ``specs`` (see :func:`plan_ensure`); the actions taken (or,
    ``dry_run``, that would be), and the topics as they were before."""
    states = await inspect_topics(admin, specs)
    replicas = replication_factor
    if any(not s.exists for s in states):
        replicas = await replication_for(admin, replication_factor)
    actions = plan_ensure(states, replication_factor=replicas, alter=alter)
    if actions and not dry_run:
        await apply_actions(admin, actions)
    return actions, states


class NeededTopics:
    """The topics the roles running in this process need, for ``/readyz``'s check ``topics``.

    ``gateway run`` builds the readiness checks before its roles start, and only the roles
    know their topics: each notes them here for as long as it runs.
    """

    def __init__(self) -> None:
        self._by_role: dict[int, tuple[str, ...]] = {}
        self._next = 0

    @contextlib.contextmanager
    def needing(self, names: Iterable[str]) -> Iterator[None]:
        """Count ``names`` as needed for the duration of the block."""
        self._next += 1
        token = self._next
        self._by_role[token] = tuple(names)
        try:
            yield
        finally:
            del self._by_role[token]

    def names(self) -> list[str]:
        """Every topic some role of this process needs."""
        return sorted({name for names in self._by_role.values() for name in names})


#: This process's.
NEEDED_TOPICS = NeededTopics()


async def await_topics(
    kafka: KafkaSettings,
    specs: Sequence[TopicSpec],
    stop: asyncio.Event,
    *,
    create: bool,
    who: str,
    timeout_s: float = 10.0,
) -> bool:
    """Return once every topic of ``specs`` exists (True), or when ``stop`` is set first
    (False). With ``create``, make the missing ones; else say every few seconds which are
    missing and how to create them, and look again every second, so a topic made meanwhile
    is seen within seconds (a consumer started on a missing topic would notice it only at
    its next metadata refresh, minutes later)."""
    names = [spec.name for spec in specs]
    hint = " (or set GATEWAY_KAFKA__CREATE_TOPICS=true)" if who != "webhooks role" else ""
    async with connected_admin(kafka, timeout_s) as admin:
        waited = False
        next_warning = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                missing = await missing_topics(admin, names)
                problem = "missing"
            except KafkaError as exc:  # the broker may be restarting: keep waiting
                missing, problem = names, f"cannot tell: {type(exc).__name__}"
            if not missing:
                if waited:
                    log.info("%s: the topics %s exist now", who, ", ".join(names))
                return True
            if create and problem == "missing":
                # A refusal (authorisation, replication factor) ends the role: waiting
                # would not change it.
                actions, _ = await ensure_topics(
                    admin,
                    [s for s in specs if s.name in missing],
                    replication_factor=kafka.topic_replication_factor,
                )
                for action in actions:
                    log.info("%s: %s", who, action.describe())
                continue
            waited = True
            if loop.time() >= next_warning:
                log.warning(
                    "%s waits for Kafka topics %s (%s): create them with `gateway topics ensure`%s",
                    who,
                    ", ".join(missing),
                    problem,
                    hint,
                )
                next_warning = loop.time() + WAIT_LOG_INTERVAL_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WAIT_POLL_S)
    return False


# ---------------------------------------------------------------------------------------
# what `gateway topics` prints


def render_table(states: Sequence[TopicState]) -> str:
    """The topics as a plain-text table, then one line per problem or note of each."""
    header = ("topic", "used for", "status", "partitions", "replicas", *SHOWN_CONFIGS)
    rows = [header] + [
        (
            s.spec.name,
            s.spec.use.value,
            s.status,
            _shown(s.partitions),
            _shown(s.replication_factor),
            *(s.configs.get(name, "-") for name in SHOWN_CONFIGS),
        )
        for s in states
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for state in states:
        lines += [f"{state.spec.name}: {text}" for text in state.problems() + state.notes()]
    return "\n".join(lines)


def _shown(value: int | None) -> str:
    return "-" if value is None else str(value)


def states_json(states: Sequence[TopicState]) -> str:
    """The topics as JSON, for machines."""
    topics: list[dict[str, Any]] = [
        {
            "name": s.spec.name,
            "use": s.spec.use.value,
            "setting": s.spec.setting,
            "status": s.status,
            "exists": s.exists,
            "partitions": s.partitions,
            "replication_factor": s.replication_factor,
            "configs": dict(s.configs),
            "wanted": {"partitions": s.spec.partitions, "configs": dict(s.spec.configs)},
            "problems": s.problems(),
            "notes": s.notes(),
        }
        for s in states
    ]
    return json.dumps(
        {
            "topics": topics,
            "missing": [s.spec.name for s in states if not s.exists],
            "ok": all(s.status == "ok" for s in states),
        },
        indent=2,
    )


def render_actions(actions: Sequence[TopicAction], *, dry_run: bool) -> str:
    """One line per action taken (or, ``dry_run``, that would be)."""
    if not actions:
        return "nothing to do: every topic exists"
    prefix = "would " if dry_run else ""
    return "\n".join(prefix + action.describe() for action in actions)


# ---------------------------------------------------------------------------------------
# the gateway's topics, for the command line


async def cluster_topics(settings: GatewaySettings, timeout_s: float) -> list[TopicState]:
    """Every topic the settings name, as the cluster has it."""
    async with connected_admin(settings.kafka, timeout_s) as admin:
        return await inspect_topics(admin, topic_specs(settings))


async def ensure_gateway_topics(
    settings: GatewaySettings, *, alter: bool, dry_run: bool, timeout_s: float
) -> tuple[list[TopicAction], list[TopicState]]:
    """:func:`ensure_topics` for every topic the settings name: the actions, and the topics
    as they are afterwards (``dry_run``: as they are)."""
    specs = topic_specs(settings)
    async with connected_admin(settings.kafka, timeout_s) as admin:
        actions, states = await ensure_topics(
            admin,
            specs,
            replication_factor=settings.kafka.topic_replication_factor,
            alter=alter,
            dry_run=dry_run,
        )
        if actions and not dry_run:
            states = await _settled(admin, specs, timeout_s)
    return actions, states


async def _settled(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], timeout_s: float
) -> list[TopicState]:
    """The topics after ``ensure``'s actions. A broker applies a config change from its
    metadata log a moment after it acknowledged it, so a describe right away can still show
    the old value: read again (briefly) until what the gateway relies on shows."""
    deadline = time.monotonic() + min(timeout_s, 5.0)
    states = await inspect_topics(admin, specs)
    while any(s.exists and s.config_drift() for s in states) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        states = await inspect_topics(admin, specs)
    return states
