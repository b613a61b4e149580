"""The shared topic names (rigkit/topics.py) that bench/, chaos/ and the pipeline tests use."""

from __future__ import annotations

import re

from rigkit.topics import CommandTopics, unique_name


def test_names_share_one_base_with_fixed_suffixes() -> None:
    topics = CommandTopics("run-1")
    assert (topics.commands, topics.results, topics.dlq, topics.group) == (
        "run-1.commands",
        "run-1.results",
        "run-1.dlq",
        "run-1.gateway",
    )
    assert CommandTopics("run-1", group_suffix="sut").group == "run-1.sut"
    assert topics.layout(8) == [("run-1.commands", 8), ("run-1.results", 8), ("run-1.dlq", 1)]


def test_every_fresh_base_is_new() -> None:
    assert re.fullmatch(r"bench-[0-9a-f]{8}", CommandTopics.fresh("bench").base)
    assert re.fullmatch(r"crash-[0-9a-f]{12}", CommandTopics.fresh("crash", digits=12).base)
    assert len({unique_name("x") for _ in range(100)}) == 100


def test_kafka_env_names_the_topics_and_group() -> None:
    topics = CommandTopics("run-2")
    assert topics.kafka_env("k:9092") == {
        "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": "k:9092",
        "GATEWAY_KAFKA__COMMANDS_TOPIC": "run-2.commands",
        "GATEWAY_KAFKA__RESULTS_TOPIC": "run-2.results",
        "GATEWAY_KAFKA__DLQ_TOPIC": "run-2.dlq",
        "GATEWAY_KAFKA__CONSUMER_GROUP": "run-2.gateway",
    }
