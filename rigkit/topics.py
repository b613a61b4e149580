"""A run's own Kafka topics: their names, their creation, and the gateway settings naming them.

Every benchmark run, chaos case and pipeline test gets its own commands, results and DLQ topics
and consumer group, all named from one base that no earlier run against the same broker used.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

__all__ = ["CommandTopics", "create_topics", "unique_name"]


def unique_name(prefix: str, digits: int = 8) -> str:
    """``prefix``, a dash and ``digits`` random hex digits: a name no earlier run used."""
    return f"{prefix}-{uuid.uuid4().hex[:digits]}"


@dataclass(frozen=True)
class CommandTopics:
    """One run's commands, results and DLQ topics and consumer group, named from ``base``."""

    base: str
    group_suffix: str = "gateway"

    @classmethod
    def fresh(cls, prefix: str, *, digits: int = 8, group_suffix: str = "gateway") -> CommandTopics:
        """Names from a new base, ``<prefix>-<digits hex digits>``."""
        return cls(unique_name(prefix, digits), group_suffix)

    @property
    def commands(self) -> str:
        return f"{self.base}.commands"

    @property
    def results(self) -> str:
        return f"{self.base}.results"

    @property
    def dlq(self) -> str:
        return f"{self.base}.dlq"

    @property
    def group(self) -> str:
        return f"{self.base}.{self.group_suffix}"

    def layout(self, partitions: int) -> list[tuple[str, int]]:
        """(topic, partitions) of the three topics; the DLQ has a single partition."""
        return [(self.commands, partitions), (self.results, partitions), (self.dlq, 1)]

    async def create(self, bootstrap: str, partitions: int, *, within: float = 60) -> None:
        """Create the three topics (see ``create_topics``)."""
        await create_topics(bootstrap, self.layout(partitions), within=within)

    def kafka_env(self, bootstrap: str) -> dict[str, str]:
        """The GATEWAY_KAFKA__* variables that point a gateway process at these topics."""
        return {
            "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "GATEWAY_KAFKA__COMMANDS_TOPIC": self.commands,
            "GATEWAY_KAFKA__RESULTS_TOPIC": self.results,
            "GATEWAY_KAFKA__DLQ_TOPIC": self.dlq,
            "GATEWAY_KAFKA__CONSUMER_GROUP": self.group,
        }


async def create_topics(
    bootstrap: str, topics: Iterable[tuple[str, int]], *, within: float = 60
) -> None:
    """Create (name, partitions) topics, replication factor 1, and wait until every partition
    has a leader (a producer racing the creation gets retriable errors and slow starts).

    A topic that already exists is fine, whatever its partition count. Gives up after
    ``within`` seconds.
    """
    wanted = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(within * 1000))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(n, p, 1) for n, p in wanted])
        for error in response.to_object()["topic_errors"]:
            if error["error_code"] not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS
                raise RuntimeError(
                    f"could not create topic {error['topic']!r}: error {error['error_code']} "
                    f"{error['error_message']}"
                )
        deadline = time.monotonic() + within
        while True:
            described = await admin.describe_topics([n for n, _ in wanted])
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["error_code"] == 0 and p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"topics without a leader for every partition: {described}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
