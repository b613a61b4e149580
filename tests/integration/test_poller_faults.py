"""Vendor errors during cycles: retried per policy; a room that cannot be read keeps its state."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_settings,
    running_poller,
)


async def test_failing_reads_keep_the_last_state_and_recover(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Participant reads fail for good: membership still comes from the room list (bob's leave
    is reported, alice is not reported as gone); once reads work again, nothing more."""
    room = "78000000001"
    for user in ("alice", "bob"):
        (
            await sim.post(f"/_sim/rooms/{room}/participants", json={"user_id": user})
        ).raise_for_status()
    topics = await make_poller_topics(kafka_bootstrap, "poller-faults")
    settings = poller_settings(kafka_bootstrap, simulator_url, topics)
    async with EventReader(kafka_bootstrap, topics.events) as reader, running_poller(settings):
        await reader.wait_count(5)  # the initial snapshot
        assert await reader.quiet(1.0) == []

        failing = {"per_path": {"/room/participate/list": {"error_rates": {"41003": 1.0}}}}
        (await sim.put("/_sim/faults", json=failing)).raise_for_status()
        (await sim.delete(f"/_sim/rooms/{room}/participants/bob")).raise_for_status()
        during = await reader.quiet(3.0)
        # The room list and the server count still work: the leave and the count are reported.
        assert sorted(e["type"] for e in during) == [
            "avd.media_server.user_count.changed",
            "avd.participant.left",
        ]
        rets = (await sim.get("/_sim/calls")).json()["rets"]["/room/participate/list"]
        # each failed cycle tried max_attempts times (retries per policy), for several cycles
        assert rets["41003"] >= 2 * settings.retry.max_attempts

        (await sim.delete("/_sim/faults")).raise_for_status()
        after = await reader.quiet(2.0)
    left = [e for e in during if e["type"] == "avd.participant.left"]
    assert [e["data"]["user_id"] for e in left] == ["bob"]
    assert left[0]["data"]["before"]["type"] == "web"  # the details known before the leave
    assert after == []


async def test_transient_errors_everywhere_are_retried(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """41003 on a third of all requests: every change still arrives, exactly once."""
    room = "78000000002"
    topics = await make_poller_topics(kafka_bootstrap, "poller-flaky")
    settings = poller_settings(kafka_bootstrap, simulator_url, topics)
    (await sim.put("/_sim/faults", json={"error_rates": {"41003": 0.33}})).raise_for_status()
    async with EventReader(kafka_bootstrap, topics.events) as reader, running_poller(settings):
        await reader.wait_count(1)  # box1's initial count
        for user in ("alice", "bob", "carol"):
            body = {"user_id": user}
            (await sim.post(f"/_sim/rooms/{room}/participants", json=body)).raise_for_status()
        await reader.wait_for(
            lambda e: sum(x["type"] == "avd.participant.joined" for x in e) == 3,
            within=30,
            what="three joins",
        )
        (
            await sim.patch(f"/_sim/rooms/{room}/participants/bob", json={"status": 2})
        ).raise_for_status()
        events = await reader.wait_for(
            lambda e: any(_bob_status(x) == 2 for x in e), within=30, what="bob's new status"
        )
        # A third of the requests fail, but a short run can draw none: keep the faults on until
        # at least one was answered (or the check below fails after 30 s).
        for _ in range(60):
            if await _faults_answered(sim):
                break
            events += await reader.quiet(0.5)
        (await sim.delete("/_sim/faults")).raise_for_status()
        events += await reader.quiet(1.5)
    joined = [e["data"]["user_id"] for e in events if e["type"] == "avd.participant.joined"]
    assert sorted(joined) == ["alice", "bob", "carol"]
    # A join whose participants read failed is reported from the room list (partial); its
    # details follow as a participant.changed from a partial participant (which then carries
    # bob's new status if it was read after the change). Otherwise the status change is one
    # participant.changed of its own.
    changes = [
        e
        for e in events
        if e["type"] == "avd.participant.changed" and not e["data"]["before"].get("partial")
    ]
    assert [c["data"]["changed"] for c in changes] in ([["status"]], [])
    assert [_bob_status(e) for e in events if _bob_status(e) is not None][-1] == 2
    assert len({e["id"] for e in events}) == len(events)
    assert await _faults_answered(sim) > 0  # faults happened


def _bob_status(event: dict[str, Any]) -> int | None:
    """Bob's status in a participant event's ``after`` (None: not about bob, or he left)."""
    after = event["data"].get("after")
    if event["data"].get("user_id") != "bob" or not isinstance(after, dict):
        return None
    return int(after["status"])


async def _faults_answered(sim: httpx.AsyncClient) -> int:
    """How many vendor requests the simulator answered with the injected 41003."""
    rets = (await sim.get("/_sim/calls")).json()["rets"]
    return sum(by_ret.get("41003", 0) for by_ret in rets.values())
