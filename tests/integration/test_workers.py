"""``gateway run --role commands --workers 2``: two processes in one consumer group sharing one
SQLite store; a worker killed takes its supervisor down, and a restart still answers every
command exactly once with no mutation twice."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from chaos.kafkaio import wait_group_members
from tests.integration.pipeline import envelope, make_topics, produce, read_results
from tests.integration.test_pipeline_crash import _env, _wait_for_calls


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--role", "commands", "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def test_two_workers_share_the_work_and_survive_a_kill(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """600 RoomCreate over two workers; one SIGKILLed part-way; all answered once."""
    (await sim.put("/_sim/faults", json={"latency": {"fixed_ms": 5}})).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "workers", partitions=4)
    rooms = [f"75{i:09d}" for i in range(600)]
    env = _env(kafka_bootstrap, simulator_url, topics, tmp_path) | {"GATEWAY_INSTANCE_ID": "gw-w"}
    group = env["GATEWAY_KAFKA__CONSUMER_GROUP"]
    log = tmp_path / "gateway.log"
    first = _start(env, log)
    try:
        # Both workers are members of the group: the partitions are spread over the two.
        assert await wait_group_members(kafka_bootstrap, group, 2, within=60), log.read_text()[
            -3000:
        ]
        await produce(
            kafka_bootstrap,
            topics.commands,
            [(r.encode(), envelope("RoomCreate", {"topic": "w", "room_id": r})) for r in rooms],
        )
        await _wait_for_calls(sim, "/room/create", 150, within=60)
        workers = _children(first.pid)
        assert len(workers) == 2, log.read_text()[-3000:]
        os.kill(workers[0], signal.SIGKILL)
        first.wait(90)  # the supervisor stops the other worker and ends
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0
    second = _start(env, log)
    try:
        results = await read_results(kafka_bootstrap, topics.results, 600, within=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert second.returncode == 0, log.read_text()[-3000:]
    per_command = collections.Counter(r["data"]["command_id"] for r in results)
    assert len(per_command) == 600
    assert set(per_command.values()) == {1}, "a read_committed reader saw a result twice"
    creates = (
        await sim.get("/_sim/requests", params={"path": "/room/create", "limit": 5000})
    ).json()
    per_room = collections.Counter(e["params"]["room_id"] for e in creates["entries"])
    assert len(per_room) == 600
    assert max(per_room.values()) == 1
