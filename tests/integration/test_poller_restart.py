"""Durable state: a restart re-emits nothing unchanged and emits what changed while down."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_settings,
    running_poller,
)


async def _calls(sim: httpx.AsyncClient, path: str) -> int:
    return int((await sim.get("/_sim/calls")).json()["calls"].get(path, 0))


async def _wait_cycles(sim: httpx.AsyncClient, cycles: int, within: float = 20.0) -> None:
    """Until the poller read the room list ``cycles`` more times."""
    start = await _calls(sim, "/room/list")
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while await _calls(sim, "/room/list") < start + cycles:
        assert loop.time() < end, f"fewer than {cycles} poller cycles in {within}s"
        await asyncio.sleep(0.05)


async def test_restart_emits_only_what_changed_while_down(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Initial snapshot once; a restart without changes: nothing; a mute while down: only it."""
    room = "77000000001"
    for user in ("alice", "bob"):
        (
            await sim.post(f"/_sim/rooms/{room}/participants", json={"user_id": user})
        ).raise_for_status()
    topics = await make_poller_topics(kafka_bootstrap, "poller-restart")
    settings = poller_settings(kafka_bootstrap, simulator_url, topics)

    async with EventReader(kafka_bootstrap, topics.events) as reader:
        async with running_poller(settings):
            # room.opened, 2 joins, statistics, box1: all initial
            initial = await reader.wait_count(5)
            await _wait_cycles(sim, 2)
        assert len(reader.events) == 5
        assert all(e["data"]["initial"] is True for e in initial)
        assert sorted(e["type"] for e in initial) == [
            "avd.media_server.user_count.changed",
            "avd.participant.joined",
            "avd.participant.joined",
            "avd.room.opened",
            "avd.room.statistics.changed",
        ]

        async with running_poller(settings):
            await _wait_cycles(sim, 3)
            assert await reader.quiet(1.0) == []
        assert len(reader.events) == 5, "a restart without changes emitted events"

        patch = {"audio": {"status": "init"}}
        (await sim.patch(f"/_sim/rooms/{room}/participants/alice", json=patch)).raise_for_status()
        async with running_poller(settings):
            events = await reader.wait_count(6)
            await _wait_cycles(sim, 3)
            assert await reader.quiet(1.0) == []
    (changed,) = events[5:]
    assert changed["type"] == "avd.participant.changed"
    assert changed["subject"] == f"rooms/{room}/participants/alice"
    assert changed["data"]["initial"] is False
    assert changed["data"]["changed"] == ["audios"]
    assert changed["data"]["sequence"] == 5  # opened, 2 joins, statistics, then this
