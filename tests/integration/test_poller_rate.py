"""The poller and commands on one account budget: neither starves the other, and the vendor
never sees more than the configured rate."""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.settings import OpsSettings, RateLimitSettings
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)
from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_settings,
    running_poller,
)

RATE = 20.0


async def test_poller_keeps_its_share_while_commands_saturate_the_limit(
    kafka_bootstrap: str, redis_url: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """150 commands at a 20/s account limit with the poller running: both make progress."""
    # The simulator shares this process's event loop with both roles: a stall of the loop
    # delays some requests and bunches them up, like network jitter; tolerance_ms absorbs it.
    limit = {"rate_limit": {"enabled": True, "rate_per_s": RATE, "burst": 4, "tolerance_ms": 25}}
    (await sim.put("/_sim/faults", json=limit)).raise_for_status()
    rooms = [f"7100000000{i}" for i in range(3)]
    for room in rooms:
        body = {"user_id": "alice"}
        (await sim.post(f"/_sim/rooms/{room}/participants", json=body)).raise_for_status()
    command_topics = await make_topics(kafka_bootstrap, "poller-rate", partitions=4)
    poller_topics = await make_poller_topics(kafka_bootstrap, "poller-rate")
    # Both roles share the account's budget through Redis, as separate replicas would.
    commands = gateway_settings(
        kafka_bootstrap,
        simulator_url,
        command_topics,
        instance_id="gw-rate",
        rate_per_s=RATE,
        redis_url=redis_url,
    )
    vendor = commands.vendor.model_copy(
        update={"rate_limit": RateLimitSettings(rate_per_s=RATE, burst=4, poller_share=0.2)}
    )
    commands = commands.model_copy(update={"vendor": vendor})
    base = poller_settings(kafka_bootstrap, simulator_url, poller_topics, redis_url=redis_url)
    poller = commands.model_copy(
        update={
            "instance_id": "poller-rate",
            "kafka": base.kafka,
            "poller": base.poller,
            "ops": OpsSettings(enabled=False),
        }
    )
    share = commands.vendor.rate_limit.poller_share
    async with (
        EventReader(kafka_bootstrap, poller_topics.events) as reader,
        running_poller(poller),
        running_gateway(commands),
    ):
        await reader.wait_count(7)  # initial: 3 rooms opened, 3 joins, box1 (statistics later)
        await asyncio.sleep(2)
        first_seq = (await sim.get("/_sim/requests", params={"limit": 0})).json()["last_seq"]
        started = time.monotonic()
        await produce(
            kafka_bootstrap,
            command_topics.commands,
            [(str(i % 20).encode(), envelope("RoomList", {})) for i in range(150)],
        )
        await asyncio.sleep(3)  # well into the saturation
        patch = {"audio": {"status": "init"}}
        changed_at = time.monotonic()
        (
            await sim.patch(f"/_sim/rooms/{rooms[1]}/participants/alice", json=patch)
        ).raise_for_status()
        await reader.wait_for(
            lambda e: any(x["type"] == "avd.participant.changed" for x in e),
            within=15,
            what="the mute, during saturation",
        )
        change_latency = time.monotonic() - changed_at
        results = await read_results(kafka_bootstrap, command_topics.results, 150, within=60)
        commands_done = time.monotonic() - started
        entries = []
        since = first_seq
        while True:
            page = (await sim.get("/_sim/requests", params={"since": since, "limit": 5000})).json()
            entries += page["entries"]
            since = page["last_seq"]
            if not page["more"]:
                break

    assert len(results) == 150
    assert {r["data"]["status"] for r in results} == {"succeeded"}
    violations = (await sim.get("/_sim/violations")).json()
    assert violations["count"] == 0, violations
    # The commands window: from the first to the last command request at the vendor.
    command_ts = [
        e["ts"]
        for e in entries
        if e["path"] == "/room/list" and " poller (" not in e["headers"].get("user-agent", "")
    ]
    window = max(command_ts) - min(command_ts)
    poller_in_window = [
        e
        for e in entries
        if " poller (" in e["headers"].get("user-agent", "")
        and min(command_ts) <= e["ts"] <= max(command_ts)
    ]
    poller_cycles = sum(e["path"] == "/room/list" for e in poller_in_window)
    # Commands are not starved: they get (at least nearly) the rest of the budget.
    assert len(command_ts) / window >= 0.8 * RATE * (1 - share), (len(command_ts), window)
    # The poller completes cycles on its reserved share while commands saturate the limit
    # (it idles between cycles, so it does not use all of it).
    assert len(poller_in_window) / window >= 0.5 * RATE * share, (len(poller_in_window), window)
    assert poller_cycles >= 3
    assert change_latency < 8.0
    assert commands_done < 30.0
