"""`Commands.send` against a fake gateway: the record it produces, the result it waits for,
and the typed answer or error it makes of that result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.client import (
    CommandFailedError,
    CommandRejectedError,
    Commands,
    ResultTimeoutError,
    Sent,
)
from gateway.client.commands import RoomCreate, RoomList
from gateway.client.results import ResultWatcher
from gateway.commands import results
from gateway.commands.request import build_request
from gateway.commands.upload import SourcePolicy
from gateway.messages.envelope import CommandEnvelope, parse_command
from gateway.messages.results import ResultData, result_event, result_event_bytes
from gateway.settings import KafkaSettings
from gateway.vendor_api import BY_COMMAND, VendorRequest
from gateway.vendor_api.errors import error_for_code

Answer = Callable[[CommandEnvelope], ResultData | None]


class FakeGateway:
    """Stands in for the producer: reads each record as the commands role does and, through
    ``answer``, publishes a result to the client's result watcher (or none)."""

    def __init__(self, watcher: ResultWatcher, answer: Answer) -> None:
        self.watcher = watcher
        self.answer = answer
        self.records: list[dict[str, Any]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        command = parse_command(value, headers)
        self.records.append(
            {"topic": topic, "key": key, "headers": dict(headers), "command": command}
        )
        built = build_request(command, BY_COMMAND[command.type], SourcePolicy(), 1 << 20)
        data = built if isinstance(built, ResultData) else self.answer(command)
        if data is not None:
            event = result_event(data, prefix="avd", source="test")
            # Someone else's result first: it must not be taken for this command's.
            other = data.model_copy(update={"command_id": "someone-else"})
            self.watcher._deliver(result_event_bytes(result_event(other, prefix="avd", source="t")))
            self.watcher._deliver(result_event_bytes(event))

    async def stop(self) -> None:
        pass


def _client(answer: Answer) -> tuple[Commands, FakeGateway]:
    kafka = KafkaSettings(commands_topic="t.commands", results_topic="t.results")
    client = Commands(kafka, account="east")
    watcher = ResultWatcher(kafka, client_id="test", connect_timeout_s=1.0)
    gateway = FakeGateway(watcher, answer)
    # What start() and the first waited send would connect, replaced by the fake.
    client._producer = gateway  # type: ignore[assignment]
    client._results = watcher
    return client, gateway


def _room_created(command: CommandEnvelope) -> ResultData:
    endpoint = BY_COMMAND[command.type]
    body = {"ret": 0, "msg": "success", "room_id": command.payload.get("room_id", "1")}
    return results.succeeded(command, endpoint, body, attempts=1)


async def test_a_waited_command_returns_the_typed_answer() -> None:
    client, _ = _client(_room_created)
    answer = await client.send(RoomCreate(topic="Weekly", room_id="12345123456"), wait=5)
    assert type(answer) is BY_COMMAND["RoomCreate"].response_model
    assert answer.room_id == "12345123456"
    assert answer.ret == 0


async def test_send_fills_in_the_envelope_the_key_and_the_trace() -> None:
    client, gateway = _client(_room_created)
    before = datetime.now(UTC).timestamp()
    await client.send(RoomCreate(topic="Weekly", room_id="12345123456"), wait=5)
    await client.send(RoomCreate(topic="Weekly"), wait=5, idempotency_key="crm-991", key="k")
    first, second = gateway.records
    assert first["topic"] == "t.commands"
    assert first["key"] == b"12345123456"
    command = first["command"]
    assert command.type == "RoomCreate"
    assert command.account == "east"
    assert command.effective_idempotency_key == command.id  # a fresh uuid: the id
    assert before + 4 < command.deadline_ts <= datetime.now(UTC).timestamp() + 5  # now + wait
    assert first["headers"]["traceparent"].startswith(b"00-")
    assert second["key"] == b"k"
    assert second["command"].idempotency_key == "crm-991"


async def test_without_wait_a_handle_comes_back_at_once() -> None:
    client, gateway = _client(lambda _: None)  # the gateway never answers
    sent = await client.send(RoomList(), idempotency_key="list-1")
    assert sent == Sent(
        command_id=gateway.records[0]["command"].id,
        command_type="RoomList",
        idempotency_key="list-1",
        key=None,
    )
    deadline = gateway.records[0]["command"].deadline_ts
    assert deadline > datetime.now(UTC).timestamp() + 250  # the client's default, 300 s


async def test_a_vendor_refusal_is_a_command_failed_error() -> None:
    def room_exists(command: CommandEnvelope) -> ResultData:
        exc = error_for_code(40005, "room_id exists", "/room/create")
        return results.vendor_failed(command, BY_COMMAND[command.type], exc, attempts=1)

    client, _ = _client(room_exists)
    with pytest.raises(CommandFailedError) as raised:
        await client.send(RoomCreate(topic="Weekly", room_id="12345123456"), wait=5)
    error = raised.value
    assert error.code == 40005
    assert error.group == "room"
    assert error.retryable is False
    assert error.command_type == "RoomCreate"
    assert error.result.status == "failed"


async def test_a_gateway_refusal_is_a_command_rejected_error_naming_the_fields() -> None:
    def unknown_account(command: CommandEnvelope) -> ResultData:
        return results.rejected(command, None, "UnknownAccount", "no account 'east'")

    client, _ = _client(unknown_account)
    with pytest.raises(CommandRejectedError) as raised:
        await client.send(RoomList(), wait=5)
    assert raised.value.error_class == "UnknownAccount"
    assert raised.value.reason == "no account 'east'"


async def test_no_result_within_the_wait_is_a_result_timeout_error() -> None:
    client, gateway = _client(lambda _: None)
    with pytest.raises(ResultTimeoutError) as raised:
        await client.send(RoomList(), wait=0.05, idempotency_key="list-2")
    assert raised.value.retryable is True
    assert raised.value.idempotency_key == "list-2"
    assert raised.value.command_id == gateway.records[0]["command"].id
    assert client._results is not None
    assert not client._results._waiting, "the waiter is forgotten after the wait"


async def test_the_untyped_envelope_of_gateway_send_gets_its_result_event() -> None:
    client, _ = _client(_room_created)
    envelope = {"id": "cli-1", "type": "RoomList", "payload": {}}
    event = await client.send_envelope(envelope, wait=5)
    assert event is not None
    assert event["data"]["command_id"] == "cli-1"
    assert await client.send_envelope({**envelope, "id": "cli-2"}) is None


async def test_a_failed_result_reader_fails_the_waiters_at_once() -> None:
    client, _ = _client(lambda _: None)
    watcher = client._results
    assert watcher is not None

    async def broken() -> None:
        raise ConnectionError("broker gone")

    watcher._reader = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(ConnectionError):
        await client.send(RoomList(), wait=5)


def test_payload_models_are_vendor_requests() -> None:
    assert isinstance(RoomList(), VendorRequest)


@pytest.mark.parametrize("wait", [0, -1.0])
async def test_a_wait_that_is_not_positive_is_refused_before_sending(wait: float) -> None:
    client, gateway = _client(_room_created)
    with pytest.raises(ValueError, match="wait must be positive"):
        await client.send(RoomList(), wait=wait)
    assert gateway.records == []
