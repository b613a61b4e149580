"""KIP-447 against the real broker: a committed offset inside a pending transaction is not
answered until the transaction ends (OffsetFetch v7, require_stable)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gateway.commands.stable_offsets import UnstableOffsetsError, stable_committed
from tests.services import create_topic, unique_topic


async def test_offsets_of_a_pending_transaction_wait_for_its_end(kafka_bootstrap: str) -> None:
    """Nothing committed: None. Offsets sent in an open transaction: unstable until it commits,
    then its offset; the other partition is answered all along."""
    topic = await create_topic(kafka_bootstrap, unique_topic("stable-offsets"), 2)
    group = f"{topic}.group"
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic}.tx")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await producer.start()
    await consumer.start()
    try:
        assert await stable_committed(consumer, group, [first, second], wait_s=5) == {
            first: None,
            second: None,
        }
        await producer.begin_transaction()
        await producer.send_offsets_to_transaction({first: 7}, group)
        with pytest.raises(UnstableOffsetsError):
            await stable_committed(consumer, group, [first, second], wait_s=0.5)
        await producer.commit_transaction()
        assert await stable_committed(consumer, group, [first, second], wait_s=5) == {
            first: 7,
            second: None,
        }
    finally:
        await consumer.stop()
        await producer.stop()
