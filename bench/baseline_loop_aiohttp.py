"""The speed of light for this stack with the gateway's vendor HTTP client: aiokafka consumer ->
aiohttp -> aiokafka producer.

The same loop as ``baseline_loop.py`` (same in-flight bound, same token fetch, same
GATEWAY_* variables, so the harness starts it exactly like the gateway), with aiohttp, which
the gateway's vendor transport uses (``gateway/vendor_api/transport.py``), in place of httpx:
one ``aiohttp.ClientSession`` whose ``TCPConnector`` holds at most the in-flight bound of
connections. Nothing else: no idempotency, no retries, no ordering per key, no transactions.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

# The only commands the benchmarks send, and their vendor paths.
PATHS = {"RoomUpdate": "/room/update", "RoomRead": "/room/read", "RoomList": "/room/list"}


async def main() -> None:
    env = os.environ
    bootstrap = env["GATEWAY_KAFKA__BOOTSTRAP_SERVERS"]
    in_flight = int(env.get("GATEWAY_COMMANDS__MAX_IN_FLIGHT", "64"))
    vendor = env["GATEWAY_VENDOR__BASE_URL"].rstrip("/")
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
    # As many pooled connections as the in-flight bound (the gateway's max_connections, which
    # the harness sets to it too). No cookie jar, like the gateway's session: the vendor sets
    # no cookie, and aiohttp's default jar would look at every answer for one.
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=int(env.get("GATEWAY_VENDOR__MAX_CONNECTIONS", in_flight))
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
    )

    async def post(path: str, form: dict[str, Any]) -> dict[str, Any]:
        async with http.post(f"{vendor}/sdkapi/v2{path}", data=form) as response:
            return json.loads(await response.read())  # type: ignore[no-any-return]

    token = (
        await post("/app/get_token", {"access_key": "demo_access", "secret_key": "demo_secret"})
    )["token"]
    slots = asyncio.Semaphore(in_flight)
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
        await http.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # the same event loop as `gateway run`
