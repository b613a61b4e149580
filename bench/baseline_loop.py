"""The speed of light for this stack: aiokafka consumer -> httpx -> aiokafka producer.

Same in-flight bound as the gateway and nothing else: no idempotency, no retries, no
ordering per key, no transactions. It reads the same GATEWAY_* variables as the gateway
(topics, group, vendor URL and keys), so the harness starts it exactly like the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

# The only commands the benchmarks send, and their vendor paths.
PATHS = {"RoomUpdate": "/room/update", "RoomRead": "/room/read", "RoomList": "/room/list"}


async def main() -> None:
    env = os.environ
    bootstrap = env["GATEWAY_KAFKA__BOOTSTRAP_SERVERS"]
    in_flight = int(env.get("GATEWAY_COMMANDS__MAX_IN_FLIGHT", "64"))
    vendor = env["GATEWAY_VENDOR__BASE_URL"]
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
    # The pool settings the gateway had while its vendor client was on httpx: max connections
    # and idle keep-alive connections (20 by default; httpcore 1.0.9's pool costs CPU per
    # pooled connection on every request). bench/baseline_loop_aiohttp.py is this loop on
    # aiohttp, the gateway's vendor client now.
    limits = httpx.Limits(
        max_connections=int(env.get("GATEWAY_VENDOR__MAX_CONNECTIONS", in_flight)),
        max_keepalive_connections=int(env.get("GATEWAY_VENDOR__MAX_KEEPALIVE_CONNECTIONS", "20")),
    )
    http = httpx.AsyncClient(base_url=vendor, limits=limits)
    token = (
        await http.post(
            "/sdkapi/v2/app/get_token",
            data={"access_key": "demo_access", "secret_key": "demo_secret"},
        )
    ).json()["token"]
    slots = asyncio.Semaphore(in_flight)
    results_topic = env["GATEWAY_KAFKA__RESULTS_TOPIC"]

    async def handle(record: object) -> None:
        try:
            command = json.loads(record.value)  # type: ignore[attr-defined]
            started = time.perf_counter()
            answer = (
                await http.post(
                    f"/sdkapi/v2{PATHS[command['type']]}",
                    data={**command["payload"], "token": token},
                )
            ).json()
            data = {
                "command_id": command["id"],
                "status": "succeeded" if answer.get("ret", 0) == 0 else "failed",
                "duration_ms": (time.perf_counter() - started) * 1000,
            }
            await producer.send(results_topic, json.dumps({"data": data}).encode(), key=record.key)  # type: ignore[attr-defined]
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
        await http.aclose()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # the same event loop as `gateway run`
