"""`gateway dlq replay` sends dead letters of a time window back, without their dlq-* headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway.app.dlq import replay_dead_letters
from gateway.settings import GatewaySettings, KafkaSettings
from tests.integration.pipeline import make_topics, produce, read_records


async def test_replay_window_and_dry_run(kafka_bootstrap: str) -> None:
    """Records in the window go back with key, value and original headers; dry run sends none."""
    topics = await make_topics(kafka_bootstrap, "dlqreplay", partitions=1)
    since = datetime.now(UTC) - timedelta(seconds=1)
    command = {"id": "dead-1", "type": "RoomList", "payload": {}}
    await produce(
        kafka_bootstrap,
        topics.dlq,
        [(b"k1", command), (b"k2", b"not json")],
        headers=[("traceparent", b"00-aa-bb-01"), ("dlq-reason", b"processing failed 10 times")],
    )
    settings = GatewaySettings(
        kafka=KafkaSettings(
            bootstrap_servers=kafka_bootstrap, commands_topic=topics.commands, dlq_topic=topics.dlq
        )
    )
    dry = await replay_dead_letters(settings, since, dry_run=True)
    assert (dry.read, dry.replayed) == (2, 0)
    assert dry.reasons == {"processing failed 10 times": 2}
    later = await replay_dead_letters(settings, datetime.now(UTC) + timedelta(seconds=5))
    assert later.read == 0
    report = await replay_dead_letters(settings, since)
    assert (report.read, report.replayed) == (2, 2)
    back = await read_records(kafka_bootstrap, topics.commands, 2)
    assert [(r.key, r.value) for r in back] == [
        (b"k1", json.dumps(command).encode()),
        (b"k2", b"not json"),
    ]
    assert all(dict(r.headers) == {"traceparent": b"00-aa-bb-01"} for r in back)


async def test_dead_letter_without_its_value_is_skipped(kafka_bootstrap: str) -> None:
    """A dead letter whose oversized value was left out is counted, not sent back empty."""
    topics = await make_topics(kafka_bootstrap, "dlqomitted", partitions=1)
    since = datetime.now(UTC) - timedelta(seconds=1)
    await produce(
        kafka_bootstrap,
        topics.dlq,
        [(b"k1", b""), (b"k2", b"not json")],
        headers=[("dlq-reason", b"value is not JSON")],
    )
    await produce(
        kafka_bootstrap, topics.dlq, [(b"k3", b"")], headers=[("dlq-value-omitted", b"1048000")]
    )
    settings = GatewaySettings(
        kafka=KafkaSettings(
            bootstrap_servers=kafka_bootstrap, commands_topic=topics.commands, dlq_topic=topics.dlq
        )
    )
    report = await replay_dead_letters(settings, since)
    assert (report.read, report.replayed, report.skipped) == (3, 2, 1)
