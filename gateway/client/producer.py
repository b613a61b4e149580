"""``Commands``: send typed commands to the gateway over Kafka and, optionally, await results.

::

    async with Commands.connect(settings.kafka) as commands:
        room = await commands.send(RoomCreate(topic="Weekly", room_id="12345123456"), wait=10)
        sent = await commands.send(RoomList())  # no wait: a Sent handle
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, overload

from aiokafka import AIOKafkaProducer

from gateway.app.kafka import make_producer, start_client
from gateway.app.topics import require_topics
from gateway.client.command import AnswerT, Command
from gateway.client.errors import ResultTimeoutError
from gateway.client.outcome import answer_of
from gateway.client.record import CommandRecord, build_envelope, command_record, trace_headers
from gateway.client.results import ResultWatcher
from gateway.settings import KafkaSettings
from gateway.telemetry.tracing import producer_span

__all__ = ["CONNECT_TIMEOUT_S", "DEFAULT_DEADLINE_S", "Commands", "Sent"]

#: How long to wait for a broker to answer before giving up.
CONNECT_TIMEOUT_S = 15.0
#: The deadline of a command sent without wait or deadline: a command that sat in the topic
#: longer (no commands role running) is failed as expired, not done hours later.
DEFAULT_DEADLINE_S = 300.0


@dataclass(frozen=True, slots=True)
class Sent:
    """A command sent without waiting: what its result will be found by."""

    command_id: str
    command_type: str
    idempotency_key: str
    key: str | None


class Commands:
    """A producer of commands on the commands topic, and a reader of their results.

    Use as ``async with Commands(kafka) as commands`` or ``async with
    Commands.connect(kafka) as commands``. Connecting checks that the commands topic exists
    (:class:`~gateway.app.topics.MissingTopicsError`) and that a broker answers
    (:class:`~gateway.app.kafka.KafkaUnreachableError`). The results topic is opened, and
    checked, with the first command that waits, or on connecting with ``results=True``.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        account: str | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        results: bool = False,
    ) -> None:
        """``account``: of every typed command not given one (default: the gateway's
        ``default``); ``deadline_s``: the deadline of a command sent without wait or deadline;
        ``results``: open the results reader on connecting (both topics checked at once)."""
        self._kafka = kafka
        self._results_on_connect = results
        self._account = account
        self._deadline_s = deadline_s
        self._connect_timeout_s = connect_timeout_s
        self._client_id = f"{kafka.client_id}-send"
        self._producer: AIOKafkaProducer | None = None
        self._results: ResultWatcher | None = None
        self._opening_results = asyncio.Lock()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        kafka: KafkaSettings,
        *,
        account: str | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        results: bool = False,
    ) -> AsyncIterator[Commands]:
        """A connected client for the block (the options as for the constructor)."""
        client = cls(
            kafka,
            account=account,
            deadline_s=deadline_s,
            connect_timeout_s=connect_timeout_s,
            results=results,
        )
        async with client as commands:
            yield commands

    async def __aenter__(self) -> Commands:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Check the topics and connect the producer (and the results reader if asked)."""
        kafka = self._kafka
        needed = [kafka.commands_topic] + (
            [kafka.results_topic] if self._results_on_connect else []
        )
        # One check naming every missing topic; a producer would wait a minute for one.
        await require_topics(kafka, needed, self._connect_timeout_s)
        producer = make_producer(kafka, client_id=self._client_id)
        await start_client(producer, kafka, timeout_s=self._connect_timeout_s)
        self._producer = producer
        if self._results_on_connect:
            await self._result_watcher(checked=True)

    async def close(self) -> None:
        """Stop waiting for results and disconnect."""
        if self._results is not None:
            await self._results.stop()
            self._results = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @overload
    async def send(
        self,
        command: Command[AnswerT],
        *,
        wait: float,
        idempotency_key: str | None = None,
        deadline: datetime | None = None,
        key: str | None = None,
        account: str | None = None,
    ) -> AnswerT: ...

    @overload
    async def send(
        self,
        command: Command[AnswerT],
        *,
        wait: None = None,
        idempotency_key: str | None = None,
        deadline: datetime | None = None,
        key: str | None = None,
        account: str | None = None,
    ) -> Sent: ...

    async def send(
        self,
        command: Command[AnswerT],
        *,
        wait: float | None = None,
        idempotency_key: str | None = None,
        deadline: datetime | None = None,
        key: str | None = None,
        account: str | None = None,
    ) -> AnswerT | Sent:
        """Send ``command``. With ``wait`` (seconds), return the vendor's answer as the
        command's answer model, or raise :class:`~gateway.client.errors.CommandFailedError`,
        :class:`~gateway.client.errors.CommandRejectedError` or, when no result came in time,
        :class:`~gateway.client.errors.ResultTimeoutError`. Without, return a :class:`Sent`.

        Filled in unless given: the idempotency key (a new uuid, which is also the command
        id), the deadline (now + ``wait``, else now + the client's ``deadline_s``: past it the
        vendor is not called), the Kafka key (the payload's ``room_id``), the account (the
        client's, else the gateway's ``default``)."""
        if wait is not None and wait <= 0:
            raise ValueError(f"wait must be positive, or None not to wait: {wait!r}")
        limit_s = self._deadline_s if wait is None else wait
        envelope = build_envelope(
            command.command_type,
            command.payload(),
            idempotency_key=idempotency_key,
            account=account or self._account,
            deadline=deadline or datetime.now(UTC) + timedelta(seconds=limit_s),
        )
        record = command_record(envelope, key=key)
        if wait is None:
            await self._produce(record)
            return Sent(
                command_id=record.command_id,
                command_type=command.command_type,
                idempotency_key=idempotency_key or record.command_id,
                key=record.key.decode() if record.key is not None else None,
            )
        event = await self._produce_and_wait(record, wait)
        if event is None:
            raise ResultTimeoutError(
                command_id=record.command_id,
                command_type=command.command_type,
                idempotency_key=idempotency_key or record.command_id,
                waited_s=wait,
            )
        return answer_of(command, event)

    async def send_envelope(
        self, envelope: Mapping[str, Any], *, key: str | None = None, wait: float | None = None
    ) -> dict[str, Any] | None:
        """Send an untyped envelope as it is (``gateway send``); with ``wait``, return its
        result event, None when none came in time; without, None."""
        record = command_record(envelope, key=key)
        if wait is None:
            await self._produce(record)
            return None
        return await self._produce_and_wait(record, wait)

    async def _produce_and_wait(self, record: CommandRecord, wait: float) -> dict[str, Any] | None:
        results = await self._result_watcher()
        future = results.expect(record.command_id)
        try:
            await self._produce(record)
            return await asyncio.wait_for(future, wait)
        except TimeoutError:
            return None
        finally:
            results.forget(record.command_id)

    async def _produce(self, record: CommandRecord) -> None:
        if self._producer is None:
            raise RuntimeError("Commands is not connected: use `async with Commands(...)`")
        topic = self._kafka.commands_topic
        with producer_span(topic):
            await self._producer.send_and_wait(
                topic, record.value, key=record.key, headers=trace_headers()
            )

    async def _result_watcher(self, *, checked: bool = False) -> ResultWatcher:
        """The results reader, opened with the first command that waits (the results topic
        checked first unless ``checked``)."""
        async with self._opening_results:
            if self._results is None:
                if not checked:
                    topics = [self._kafka.results_topic]
                    await require_topics(self._kafka, topics, self._connect_timeout_s)
                watcher = ResultWatcher(
                    self._kafka,
                    client_id=self._client_id,
                    connect_timeout_s=self._connect_timeout_s,
                )
                await watcher.start()
                self._results = watcher
            return self._results
