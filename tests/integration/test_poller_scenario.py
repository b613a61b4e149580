"""The poller against the simulator and real Kafka: a scenario step by step, exact events."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import httpx

from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_settings,
    running_poller,
)

Event = dict[str, Any]


def _name(event: Event) -> str:
    return str(event["type"]).removeprefix("avd.")


def _step(events: list[Event]) -> list[tuple[str, str]]:
    return sorted((_name(e), e["subject"]) for e in events)


async def test_scenario_emits_exactly_the_expected_events(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Open two rooms, three joins, a mute, a leave, a close, statistics and a server count."""
    topics = await make_poller_topics(kafka_bootstrap, "poller-scenario")
    settings = poller_settings(kafka_bootstrap, simulator_url, topics)
    steps: list[tuple[str, list[tuple[str, str]]]] = []

    async with EventReader(kafka_bootstrap, topics.events) as reader, running_poller(settings):
        # Fresh start: no room is open; box1 (the default server) is the initial state.
        (first,) = await reader.wait_count(1)
        assert _name(first) == "media_server.user_count.changed"
        assert first["data"]["initial"] is True
        assert (first["data"]["before"], first["data"]["after"]) == (None, {"user_count": 0})
        seen = 1

        async def step(label: str, action: Any, expected: list[tuple[str, str]]) -> list[Event]:
            nonlocal seen
            (await action).raise_for_status()
            events = await reader.wait_count(seen + len(expected), within=20)
            new = events[seen:]
            seen = len(events)
            assert _step(new) == sorted(expected), label
            steps.append((label, expected))
            return new

        r1, r2 = "76000000001", "76000000002"
        new = await step(
            "alice opens r1",
            sim.post(f"/_sim/rooms/{r1}/participants", json={"user_id": "alice"}),
            [
                ("room.opened", f"rooms/{r1}"),
                ("participant.joined", f"rooms/{r1}/participants/alice"),
                ("room.statistics.changed", f"rooms/{r1}"),
                ("media_server.user_count.changed", "media_servers/box1"),
            ],
        )
        stats = next(e for e in new if _name(e) == "room.statistics.changed")["data"]
        assert stats["before"] is None
        assert (stats["after"]["meeting_total"], stats["after"]["user_cnt"]) == (1, 1)
        assert all(e["data"]["initial"] is False for e in new)
        joined = next(e for e in new if _name(e) == "participant.joined")["data"]
        assert joined["after"]["audios"][0]["status"] == "published"

        new = await step(
            "bob joins r1",
            sim.post(f"/_sim/rooms/{r1}/participants", json={"user_id": "bob"}),
            [
                ("participant.joined", f"rooms/{r1}/participants/bob"),
                ("room.statistics.changed", f"rooms/{r1}"),
                ("media_server.user_count.changed", "media_servers/box1"),
            ],
        )
        stats = next(e for e in new if _name(e) == "room.statistics.changed")["data"]
        assert stats["changed"] == ["user_cnt", "web_cnt"]
        assert (stats["before"]["user_cnt"], stats["after"]["user_cnt"]) == (1, 2)

        await step(
            "carol opens r2",
            sim.post(f"/_sim/rooms/{r2}/participants", json={"user_id": "carol"}),
            [
                ("room.opened", f"rooms/{r2}"),
                ("participant.joined", f"rooms/{r2}/participants/carol"),
                ("room.statistics.changed", f"rooms/{r2}"),
                ("media_server.user_count.changed", "media_servers/box1"),
            ],
        )

        (muted,) = await step(
            "alice mutes",
            sim.patch(f"/_sim/rooms/{r1}/participants/alice", json={"audio": {"status": "init"}}),
            [("participant.changed", f"rooms/{r1}/participants/alice")],
        )
        assert muted["data"]["changed"] == ["audios"]
        assert muted["data"]["before"]["audios"][0]["status"] == "published"
        assert muted["data"]["after"]["audios"][0]["status"] == "init"
        assert muted["data"]["before"]["videos"] == muted["data"]["after"]["videos"]

        new = await step(
            "bob leaves",
            sim.delete(f"/_sim/rooms/{r1}/participants/bob"),
            [
                ("participant.left", f"rooms/{r1}/participants/bob"),
                ("media_server.user_count.changed", "media_servers/box1"),
            ],
        )
        left = next(e for e in new if _name(e) == "participant.left")["data"]
        assert (left["reason"], left["before"]["user_id"], left["after"]) == ("left", "bob", None)

        new = await step(
            "r2 closes",
            sim.post(f"/_sim/rooms/{r2}/close"),
            [
                ("participant.left", f"rooms/{r2}/participants/carol"),
                ("room.closed", f"rooms/{r2}"),
                ("room.statistics.changed", f"rooms/{r2}"),
                ("media_server.user_count.changed", "media_servers/box1"),
            ],
        )
        assert [_name(e) for e in new if e["partitionkey"] == r2] == [
            "participant.left",
            "room.closed",
            "room.statistics.changed",
        ]
        final = new[[_name(e) for e in new].index("room.statistics.changed")]["data"]
        assert final["final"] is True
        assert (final["after"]["meeting_total"], final["after"]["user_cnt"]) == (1, 1)
        assert final["before"] == final["after"] | {"time_total": final["before"]["time_total"]}
        assert next(e for e in new if _name(e) == "participant.left")["data"]["reason"] == (
            "room_closed"
        )

        (stats_event,) = await step(
            "statistics of r1 change",
            sim.put("/_sim/statistics", json={"room_id": r1, "user_cnt": 7, "web_cnt": 7}),
            [("room.statistics.changed", f"rooms/{r1}")],
        )
        assert stats_event["data"]["changed"] == ["meeting_total", "user_cnt", "web_cnt"]
        assert stats_event["data"]["before"]["user_cnt"] == 2
        assert stats_event["data"]["after"] == {
            "meeting_total": 0,
            "ios_cnt": 0,
            "pc_cnt": 0,
            "user_cnt": 7,
            "other_cnt": 0,
            "android_cnt": 0,
            "time_total": 0,
            "box_cnt": 0,
            "web_cnt": 7,
        }

        (count,) = await step(
            "box1 reports 42 users",
            sim.put("/_sim/media_servers/box1", json={"user_count": 42}),
            [("media_server.user_count.changed", "media_servers/box1")],
        )
        assert (count["data"]["before"], count["data"]["after"]) == (
            {"user_count": 1},
            {"user_count": 42},
        )
        assert count["partitionkey"] == "box1"

        assert await reader.quiet(2.0) == [], "events after the scenario settled"
        records = list(reader.records)

    # Keys and per-key order: sequences count up without gaps, per room / server.
    by_key: dict[str, list[int]] = defaultdict(list)
    for record in records:
        event = json.loads(record.value)
        assert record.key.decode() == event["partitionkey"]
        by_key[event["partitionkey"]].append(event["data"]["sequence"])
    for key, sequences in by_key.items():
        assert sequences == list(range(1, len(sequences) + 1)), key
    ids = [json.loads(r.value)["id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert len(steps) == 8
