"""SIGKILL in the middle of a stream: every command still gets exactly one visible result, and
no mutation reaches the vendor twice."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.app.embedded_simulator import SIMULATOR_KEYS_ENV
from rigkit.topics import CommandTopics
from tests.integration.pipeline import envelope, make_topics, produce, read_results


def _start_gateway(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--role", "commands"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _env(kafka: str, vendor: str, topics: CommandTopics, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_INSTANCE_ID": "gw-crash",
        **topics.kafka_env(kafka),
        "GATEWAY_VENDOR__BASE_URL": vendor,
        **SIMULATOR_KEYS_ENV,
        "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "false",
        "GATEWAY_IDEMPOTENCY__SQLITE_PATH": str(tmp / "idempotency.sqlite3"),
        "GATEWAY_IDEMPOTENCY__LEASE_S": "2",
        "GATEWAY_RETRY__INITIAL_WAIT_S": "0.05",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_OPS__PORT": str(_free_port()),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_for_calls(sim: httpx.AsyncClient, path: str, at_least: int, within: float) -> int:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    count = 0
    while loop.time() < end:
        count = (await sim.get("/_sim/calls")).json()["calls"].get(path, 0)
        if count >= at_least:
            return int(count)
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {count} calls to {path} after {within}s")


async def test_sigkill_mid_stream_exactly_one_result_and_no_double_mutation(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """1,000 RoomCreate commands, the gateway SIGKILLed part-way and restarted."""
    (await sim.put("/_sim/faults", json={"latency": {"fixed_ms": 5}})).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "crash", partitions=4)
    rooms = [f"74{i:09d}" for i in range(1000)]
    commands = [envelope("RoomCreate", {"topic": "crash", "room_id": r}) for r in rooms]
    await produce(
        kafka_bootstrap,
        topics.commands,
        [(r.encode(), c) for r, c in zip(rooms, commands, strict=True)],
    )
    env = _env(kafka_bootstrap, simulator_url, topics, tmp_path)
    log = tmp_path / "gateway.log"
    first = _start_gateway(env, log)
    try:
        await _wait_for_calls(sim, "/room/create", 300, within=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = (await sim.get("/_sim/calls")).json()["calls"]["/room/create"]
    second = _start_gateway(env, log)
    try:
        results = await read_results(kafka_bootstrap, topics.results, 1000, within=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert second.returncode == 0, log.read_text()[-3000:]
    assert killed_at < 1000, "the kill came too late to test anything"
    per_command = collections.Counter(r["data"]["command_id"] for r in results)
    assert len(per_command) == 1000
    assert set(per_command.values()) == {1}, "a read_committed reader saw a result twice"
    assert {r["data"]["status"] for r in results} == {"succeeded"}
    creates = (
        await sim.get("/_sim/requests", params={"path": "/room/create", "limit": 5000})
    ).json()
    per_room = collections.Counter(e["params"]["room_id"] for e in creates["entries"])
    assert len(per_room) == 1000
    assert max(per_room.values()) == 1, [r for r, n in per_room.items() if n > 1][:5]
