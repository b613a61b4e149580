"""The speed of light for this stack: aiokafka consumer -> httpx -> aiokafka producer.

Same in-flight bound as the gateway and nothing else: no idempotency, no retries, no
ordering per key, no transactions. It reads the same GATEWAY_* variables as the gateway
(topics, group, vendor URL and keys), so the harness starts it exactly like the gateway.
``serve`` is the loop itself, whatever the HTTP client: ``baseline_loop_aiohttp.py`` runs it
on aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

# The only commands the benchmarks send, and their vendor paths.
PATHS = {"RoomUpdate": "/room/update", "RoomRead": "/room/read", "RoomList": "/room/list"}

Post = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""POST a form to a vendor path (below /sdkapi/v2); the JSON answer."""


def in_flight() -> int:
    """The in-flight bound, as the harness sets it for every system under test."""
    return int(os.environ.get("GATEWAY_COMMANDS__MAX_IN_FLIGHT", "64"))


async def serve(post: Post) -> None:
    """Consume commands, call the vendor through ``post``, produce a result each; until
    SIGTERM."""
    env = os.environ
    bootstrap = env["GATEWAY_KAFKA__BOOTSTRAP_SERVERS"]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(
        env["GATEWAY_KAFKA__COMMANDS_TOPIC"],
        bootstrap_servers=bootstrap,
        group_id=env["GATEWAY_KAFKA__CONSUMER_GROUP"],
        enable_auto_commit=True,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    token = (
        await post("/app/get_token", {"access_key": "demo_access", "secret_key": "demo_secret"})
    )["token"]
    slots = asyncio.Semaphore(in_flight())
    results_topic = env["GATEWAY_KAFKA__RESULTS_TOPIC"]

    async def handle(record: Any) -> None:
        try:
            command = json.loads(record.value)
            started = time.perf_counter()
            answer = await post(PATHS[command["type"]], {**command["payload"], "token": token})
            data = {
                "command_id": command["id"],
                "status": "succeeded" if answer.get("ret", 0) == 0 else "failed",
                "duration_ms": (time.perf_counter() - started) * 1000,
            }
            await producer.send(results_topic, json.dumps({"data": data}).encode(), key=record.key)
        finally:
            slots.release()

    await consumer.start()
    await producer.start()
    tasks: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            for records in batch.values():
                for record in records:
                    await slots.acquire()
                    task = asyncio.create_task(handle(record))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()
        await producer.stop()


async def main() -> None:
    env = os.environ
    # The gateway's pool settings once: max connections and 20 idle keep-alive connections
    # (httpcore 1.0.9's pool costs CPU per pooled connection on every request).
    limits = httpx.Limits(
        max_connections=int(env.get("GATEWAY_VENDOR__MAX_CONNECTIONS", in_flight())),
        max_keepalive_connections=int(env.get("GATEWAY_VENDOR__MAX_KEEPALIVE_CONNECTIONS", "20")),
    )
    http = httpx.AsyncClient(base_url=env["GATEWAY_VENDOR__BASE_URL"], limits=limits)

    async def post(path: str, form: dict[str, Any]) -> dict[str, Any]:
        return (await http.post(f"/sdkapi/v2{path}", data=form)).json()  # type: ignore[no-any-return]

    try:
        await serve(post)
    finally:
        await http.aclose()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # the same event loop as `gateway run`
