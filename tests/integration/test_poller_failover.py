"""Two poller replicas (real processes): one polls; SIGKILL it and the other takes over within
the failover bound, losing no change and repeating none."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.settings import GatewaySettings
from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_env,
    poller_settings,
    poller_user_agents,
)


def _start(settings: GatewaySettings, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **poller_env(settings.model_copy(update={"instance_id": name}))}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "run", "--role", "poller"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _polling(sim: httpx.AsyncClient, since: int, within: float) -> str:
    """The instance name of the first poller request after log entry ``since``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while loop.time() < end:
        agents = await poller_user_agents(sim, since)
        if agents:
            return agents[0][1].rsplit("(", 1)[1].rstrip(")")
        await asyncio.sleep(0.1)
    raise AssertionError(f"no poller request within {within}s")


async def _last_seq(sim: httpx.AsyncClient) -> int:
    return int((await sim.get("/_sim/requests", params={"limit": 0})).json()["last_seq"])


async def test_one_replica_polls_and_the_other_takes_over_after_sigkill(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Leader by the request log; SIGKILL; takeover within failover_s; every change once."""
    room = "79000000001"
    (await sim.post(f"/_sim/rooms/{room}/participants", json={"user_id": "u0"})).raise_for_status()
    topics = await make_poller_topics(kafka_bootstrap, "poller-failover")
    settings = poller_settings(kafka_bootstrap, simulator_url, topics, failover_s=12.0)
    log = tmp_path / "pollers.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    async with EventReader(kafka_bootstrap, topics.events) as reader:
        try:
            processes["pa"] = _start(settings, "pa", log)
            assert await _polling(sim, 0, within=30) == "pa"
            await reader.wait_count(4)  # initial snapshot: opened, u0, statistics, box1
            processes["pb"] = _start(settings, "pb", log)
            await asyncio.sleep(6)  # pb starts, joins the lease group; pa keeps the lease

            window_start = await _last_seq(sim)
            await asyncio.sleep(3)
            rhythm = await poller_user_agents(sim, window_start)
            assert len(rhythm) >= 5
            assert {agent for _, agent in rhythm} == {rhythm[0][1]}, "two replicas polled"
            assert rhythm[0][1].endswith("(pa)")

            body = {"user_id": "u1"}
            (await sim.post(f"/_sim/rooms/{room}/participants", json=body)).raise_for_status()
            await reader.wait_for(lambda e: any("u1" in x["subject"] for x in e), what="u1")

            processes["pa"].send_signal(signal.SIGKILL)
            processes["pa"].wait(10)
            killed_at = time.time()
            after_kill = await _last_seq(sim)
            # A change while nobody polls: the new leader must report it.
            body = {"user_id": "u2"}
            (await sim.post(f"/_sim/rooms/{room}/participants", json=body)).raise_for_status()

            assert await _polling(sim, after_kill, within=settings.poller.failover_s + 5) == "pb"
            first_b = (await poller_user_agents(sim, after_kill))[0][0]
            takeover_s = first_b - killed_at
            await reader.wait_for(lambda e: any("u2" in x["subject"] for x in e), what="u2")
            # A join is published in its cycle's first part, the statistics it changes in the
            # second (or a later cycle): only those may still come.
            late = await reader.quiet(2.0)
            assert {e["type"] for e in late} <= {"avd.room.statistics.changed"}
            events = reader.events
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(30)
    assert takeover_s <= settings.poller.failover_s, f"takeover took {takeover_s:.1f}s"
    assert processes["pb"].returncode == 0, log.read_text()[-3000:]
    joined = sorted(e["data"]["user_id"] for e in events if e["type"] == "avd.participant.joined")
    assert joined == ["u0", "u1", "u2"], "a join was lost or repeated across the failover"
    assert len({e["id"] for e in events}) == len(events)
    room_sequences = [e["data"]["sequence"] for e in events if e["partitionkey"] == room]
    assert room_sequences == list(range(1, len(room_sequences) + 1))
