"""`gateway demo`: the whole loop on this machine, with embedded defaults.

It starts the vendor simulator and the commands role in this process against the local
Kafka (``make demo`` starts it), puts a handful of real commands on a demo commands topic —
RoomCreate, participants joining (through the simulator's scenario API), InviteDevice,
StartLive, a duplicate RoomCreate, an invalid command — and prints each result event as it
arrives from the results topic.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from gateway.app.commands_role import run_commands_role
from gateway.app.embedded_simulator import embedded_simulator, simulator_vendor
from gateway.settings import (
    GatewaySettings,
    IdempotencySettings,
    KafkaSettings,
)

__all__ = ["run_demo"]

ROOM_ID = "12345123456"


def _show(value: Any, limit: int = 260) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _commands() -> list[tuple[str, dict[str, Any]]]:
    create = {"topic": "Weekly sync", "room_id": ROOM_ID}
    return [
        (
            "RoomCreate",
            {
                "id": "demo-1",
                "type": "RoomCreate",
                "payload": create,
                "idempotency_key": "crm-meeting-991",
            },
        ),
        (
            "InviteDevice",
            {
                "id": "demo-2",
                "type": "InviteDevice",
                "payload": {"room_id": ROOM_ID, "uri": "sip:1001@192.0.2.10", "name": "Boardroom"},
            },
        ),
        (
            "StartLive",
            {
                "id": "demo-3",
                "type": "StartLive",
                "payload": {"room_id": ROOM_ID, "push_url": "rtmp://live.example.com/app/weekly"},
            },
        ),
        (
            "RoomCreate (same idempotency key: replayed, no second vendor call)",
            {
                "id": "demo-4",
                "type": "RoomCreate",
                "payload": create,
                "idempotency_key": "crm-meeting-991",
            },
        ),
        (
            "InviteDevice (invalid: uri missing, unknown field)",
            {
                "id": "demo-5",
                "type": "InviteDevice",
                "payload": {"room_id": ROOM_ID, "ur1": "sip:x"},
            },
        ),
        (
            "ParticipantList",
            {"id": "demo-6", "type": "ParticipantList", "payload": {"room_id": ROOM_ID}},
        ),
    ]


async def _topics(bootstrap: str, kafka: KafkaSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(t, 3, 1)
                for t in (kafka.commands_topic, kafka.results_topic, kafka.dlq_topic)
            ]
        )
    finally:
        await admin.close()


class _Results:
    """Reads the results topic in the background and hands each result to its waiter."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        self._seen: dict[str, dict[str, Any]] = {}
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            async with self._arrived:
                for records in batch.values():
                    for record in records:
                        event = json.loads(record.value)
                        self._seen[event["data"]["command_id"]] = event
                self._arrived.notify_all()

    async def wait(self, command_id: str, within: float = 60) -> dict[str, Any]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: command_id in self._seen), within)
            return self._seen[command_id]


def _print_result(event: dict[str, Any]) -> None:
    data = event["data"]
    print(f"<- {event['type']}  ({data['command_type']}, {data['duration_ms']} ms)")
    keys = ("result", "error", "vendor", "attempts", "replayed")
    shown = {k: data[k] for k in keys if data.get(k) not in (None, [], {})}
    if isinstance(shown.get("error"), dict):
        shown["error"] = {k: v for k, v in shown["error"].items() if v is not None}
    print(f"   {_show(shown)}")


async def run_demo(vendor_url: str | None = None, bootstrap: str = "127.0.0.1:9092") -> int:
    """Run the walk-through; returns the process exit code."""
    run = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        commands_topic=f"demo-{run}.commands",
        results_topic=f"demo-{run}.results",
        dlq_topic=f"demo-{run}.dlq",
        consumer_group=f"demo-{run}",
    )
    try:
        await _topics(bootstrap, kafka)
    except KafkaError as exc:
        print(f"no Kafka at {bootstrap} ({type(exc).__name__}): run `make services` first")
        return 1
    async with AsyncExitStack() as stack:
        if vendor_url is None:
            vendor_url = await stack.enter_async_context(embedded_simulator())
        print(f"simulator at {vendor_url}; Kafka at {bootstrap}; topics demo-{run}.*")
        settings = GatewaySettings(
            instance_id=f"demo-{run}",
            kafka=kafka,
            vendor=simulator_vendor(vendor_url),
            idempotency=IdempotencySettings(sqlite_path=f".cache/demo/{run}.sqlite3"),
        )
        stop = asyncio.Event()
        gateway = asyncio.create_task(run_commands_role(settings, stop))
        sim = await stack.enter_async_context(httpx.AsyncClient(base_url=vendor_url))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        results = _Results(bootstrap, kafka.results_topic)
        await results.start()
        try:
            for title, envelope in _commands():
                print(f"\n-> {title}: {_show(envelope)}")
                value = json.dumps(envelope).encode()
                await producer.send_and_wait(kafka.commands_topic, value, key=ROOM_ID.encode())
                _print_result(await results.wait(envelope["id"]))
                if envelope["id"] == "demo-1":
                    for user, name in (("u-alice", "Alice"), ("u-bob", "Bob")):
                        print(f"~> simulator scenario: {name} joins the room")
                        body = {"user_id": user, "user_name": name}
                        await sim.post(f"/_sim/rooms/{ROOM_ID}/participants", json=body)
            calls = (await sim.get("/_sim/calls")).json()["calls"]
            print(f"\nthe simulator saw: {_show(calls, 400)}")
        finally:
            await results.stop()
            await producer.stop()
            stop.set()
            await gateway
    return 0
