"""The real services the integration suite relies on, checked for the features it uses.

Kafka: idempotent producers and transactions (commit and abort) with a
``read_committed`` consumer, the exactly-once building blocks the gateway needs.
Redis: a SET/GET round trip. Plus the "no service" path: it must fail loudly with a
message that says how to fix it, never skip.
"""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests import services
from tests.services import create_topic, unique_topic

# The fixtures normally come from tests/conftest.py; binding them here too keeps this file
# runnable on its own (same cached addresses either way). Assigned rather than imported so
# that linters don't read the test parameters of the same name as redefinitions.
kafka_bootstrap = services.kafka_bootstrap
redis_url = services.redis_url

pytestmark = pytest.mark.integration


async def _read_all(bootstrap: str, topic: str, isolation_level: str) -> list[bytes]:
    """Every value on partition 0 of ``topic`` visible at ``isolation_level``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation_level,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        # For read_committed this is the last stable offset: nothing pending is hidden.
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            values.extend(msg.value for msg in batch.get(tp, []) if msg.value is not None)
        return values
    finally:
        await consumer.stop()


async def test_idempotent_producer_round_trip(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, unique_topic("svc-idem"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, b"one", key=b"k")
        second = await producer.send_and_wait(topic, b"two", key=b"k")
    finally:
        await producer.stop()
    assert (first.offset, second.offset) == (0, 1)
    assert await _read_all(kafka_bootstrap, topic, "read_committed") == [b"one", b"two"]


async def test_transactions_commit_and_abort(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, unique_topic("svc-txn"))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"svc-test-{uuid.uuid4().hex}",
        enable_idempotence=True,
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed")

        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
    finally:
        await producer.stop()

    assert await _read_all(kafka_bootstrap, topic, "read_committed") == [b"committed"]
    # The aborted record really reached the log: only the isolation level hides it.
    assert await _read_all(kafka_bootstrap, topic, "read_uncommitted") == [
        b"committed",
        b"aborted",
    ]


async def test_redis_set_get(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    key = f"svc-test:{uuid.uuid4().hex}"
    try:
        assert await client.set(key, b"value", ex=60)
        assert await client.get(key) == b"value"
        assert await client.delete(key) == 1
    finally:
        await client.aclose()


def test_missing_service_fails_with_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no address, no Docker and nothing local, the error names each try and the fix."""
    monkeypatch.delenv("GATEWAY_TEST_NOWHERE", raising=False)
    monkeypatch.setattr(services, "_docker_verdict", (False, "disabled for this test"))

    def no_container() -> str:
        raise AssertionError("Docker must not be tried when it is unavailable")

    with pytest.raises(services.ServiceUnavailableError) as excinfo:
        services._resolve(
            "Kafka",
            "GATEWAY_TEST_NOWHERE",
            lambda address: services.check_kafka(address, timeout=2),
            no_container,
            services.KAFKA_IMAGE,
            "127.0.0.1:1",  # nothing listens on port 1
            "scripts/kafka.sh",
        )
    message = str(excinfo.value)
    assert "GATEWAY_TEST_NOWHERE: not set" in message
    assert "disabled for this test" in message
    assert "127.0.0.1:1" in message
    assert "scripts/services.sh up" in message


def test_explicit_address_that_is_down_is_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TEST_NOWHERE", "redis://127.0.0.1:1/0")

    def must_not_run() -> str:
        raise AssertionError("an explicit address must not fall back to Docker")

    with pytest.raises(services.ServiceUnavailableError, match="is set but does not answer"):
        services._resolve(
            "Redis",
            "GATEWAY_TEST_NOWHERE",
            lambda url: services.check_redis(url, timeout=2),
            must_not_run,
            services.REDIS_IMAGE,
            services._local_redis(),
            "scripts/redis.sh",
        )
