"""The typed producer (`gateway.client.Commands`) against a running gateway: real Kafka, the
commands role in this process, the vendor simulator over HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway.app.topics import MissingTopicsError
from gateway.client import CommandFailedError, CommandRejectedError, Commands, ResultTimeoutError
from gateway.client.commands import RoomCreate, RoomList
from gateway.settings import KafkaSettings
from gateway.vendor_api.generated.endpoints.room import RoomCreateResponse, RoomListResponse
from tests.integration.pipeline import gateway_settings, make_topics, running_gateway


async def test_typed_commands_come_back_as_typed_answers_and_errors(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """RoomCreate and RoomList come back as their answer models; creating the same room again
    is the vendor's 40005 as CommandFailedError; an unknown account is CommandRejectedError."""
    topics = await make_topics(kafka_bootstrap, "typed", partitions=2)
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    room = RoomCreate(topic="Typed client", room_id="79000000042")
    async with running_gateway(settings), Commands.connect(settings.kafka) as commands:
        created = await commands.send(room, wait=30)
        listed = await commands.send(RoomList(), wait=30)
        with pytest.raises(CommandFailedError) as failed:
            await commands.send(room, wait=30)  # a new idempotency key: the vendor is asked
        with pytest.raises(CommandRejectedError) as rejected:
            await commands.send(RoomList(), wait=30, account="nowhere")
    assert isinstance(created, RoomCreateResponse)
    assert created.ret == 0
    assert created.room_id == "79000000042"
    assert isinstance(listed, RoomListResponse)
    assert listed.rooms == []  # the list holds rooms with people in them: none yet
    assert failed.value.code == 40005
    assert failed.value.command_type == "RoomCreate"
    assert failed.value.retryable is False
    assert rejected.value.error_class == "UnknownAccount"


async def test_no_running_gateway_is_a_result_timeout(kafka_bootstrap: str) -> None:
    """Sent, but nothing answers: ResultTimeoutError after the wait, the handle without one."""
    topics = await make_topics(kafka_bootstrap, "typed-idle", partitions=1)
    settings = gateway_settings(kafka_bootstrap, "http://127.0.0.1:9", topics)
    async with Commands.connect(settings.kafka) as commands:
        sent = await commands.send(RoomCreate(topic="x", room_id="79000000043"))
        with pytest.raises(ResultTimeoutError) as raised:
            await commands.send(RoomList(), wait=1.0, idempotency_key="idle-1")
    assert sent.key == "79000000043"
    assert raised.value.idempotency_key == "idle-1"


async def test_missing_topics_are_named_on_connecting(kafka_bootstrap: str) -> None:
    """Both topics are checked at once with ``results=True``; without, the results topic is
    checked with the first command that waits, before anything is sent."""
    base = f"typed-none-{uuid.uuid4().hex}"  # one base: the error names them sorted
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        commands_topic=f"{base}.commands",
        results_topic=f"{base}.results",
    )
    with pytest.raises(MissingTopicsError) as both:
        async with Commands.connect(kafka, results=True):
            pass
    assert both.value.topics == (kafka.commands_topic, kafka.results_topic)
    topics = await make_topics(kafka_bootstrap, "typed-nores", partitions=1)
    only_commands = kafka.model_copy(update={"commands_topic": topics.commands})
    async with Commands.connect(only_commands) as commands:
        with pytest.raises(MissingTopicsError) as results:
            await commands.send(RoomList(), wait=5)
    assert results.value.topics == (kafka.results_topic,)
