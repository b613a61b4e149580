"""One poller, two vendor accounts: each on its own cycles, one's outage never delays the
other's events; every event and state record names its account."""

from __future__ import annotations

import json

import httpx

from gateway.app.embedded_simulator import embedded_simulator, free_port, simulator_vendor
from gateway.settings import RateLimitSettings
from gateway.simulator import SimulatorSettings
from tests.integration.poller_support import (
    EventReader,
    make_poller_topics,
    poller_settings,
    running_poller,
    state_topic_contents,
)


async def _join(sim: httpx.AsyncClient, room: str, user: str) -> None:
    (await sim.post(f"/_sim/rooms/{room}/participants", json={"user_id": user})).raise_for_status()


async def _state_keys(bootstrap: str, topic: str) -> set[str]:
    """The live keys of the poller's state topic (latest value not a tombstone)."""
    _, latest = await state_topic_contents(bootstrap, topic)
    return {key for key, value in latest.items() if value is not None}


async def test_one_accounts_outage_never_delays_the_others_events(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Account "eu" hangs on every request (its reads time out, its retries wait); the default
    account's initial events and a later join still arrive within seconds. When "eu" answers
    again, its events come, each naming "eu" in data and in the ``account`` attribute."""
    default_room, eu_room = "79000000001", "79000000002"
    await _join(sim, default_room, "alice")
    async with (
        embedded_simulator(SimulatorSettings(seed=2, port=free_port())) as eu_url,
        httpx.AsyncClient(base_url=eu_url) as eu_sim,
    ):
        await _join(eu_sim, eu_room, "erin")
        hang = {"timeout_rate": 1.0, "timeout_hang_s": 30}
        (await eu_sim.put("/_sim/faults", json=hang)).raise_for_status()

        topics = await make_poller_topics(kafka_bootstrap, "poller-accounts")
        base = poller_settings(kafka_bootstrap, simulator_url, topics)
        eu = simulator_vendor(
            eu_url, read_timeout_s=1.0, rate_limit=RateLimitSettings(enabled=False)
        )
        settings = base.model_copy(update={"accounts": {"eu": eu}})
        async with EventReader(kafka_bootstrap, topics.events) as reader, running_poller(settings):
            initial = await reader.wait_for(
                lambda e: sum(x["type"] == "avd.participant.joined" for x in e) >= 1,
                within=5,
                what="the default account's initial join",
            )
            await _join(sim, default_room, "bob")
            events = await reader.wait_for(
                lambda e: any(x["data"].get("user_id") == "bob" for x in e),
                within=5,
                what="bob's join while eu hangs",
            )
            assert all(e["account"] == "default" for e in events), "eu emitted while hanging"
            assert len(initial) >= 3  # room.opened, alice, box1 (statistics may be there)

            (await eu_sim.delete("/_sim/faults")).raise_for_status()
            events = await reader.wait_for(
                lambda e: any(x["data"].get("user_id") == "erin" for x in e),
                within=20,
                what="eu's events once it answers",
            )
        eu_events = [e for e in events if e["account"] == "eu"]
        assert {e["data"]["account"] for e in eu_events} == {"eu"}
        assert {e["type"] for e in eu_events} >= {"avd.room.opened", "avd.participant.joined"}
        assert {e["data"].get("room_id") for e in eu_events} - {None} == {eu_room}
        default_events = [e for e in events if e["account"] == "default"]
        assert {e["data"]["account"] for e in default_events} == {"default"}
        assert len({e["id"] for e in events}) == len(events)

    keys = await _state_keys(kafka_bootstrap, topics.state)
    assert f"default/room:{default_room}" in keys
    assert f"eu/room:{eu_room}" in keys
    assert all(key.split("/", 1)[0] in {"default", "eu"} for key in keys)


async def test_the_poller_can_be_restricted_to_some_accounts(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """GATEWAY_POLLER__ACCOUNTS=["eu"]: only eu is read, the default account is not."""
    await _join(sim, "79000000003", "dora")
    async with (
        embedded_simulator(SimulatorSettings(seed=3, port=free_port())) as eu_url,
        httpx.AsyncClient(base_url=eu_url) as eu_sim,
    ):
        await _join(eu_sim, "79000000004", "emil")
        topics = await make_poller_topics(kafka_bootstrap, "poller-restricted")
        base = poller_settings(kafka_bootstrap, simulator_url, topics, accounts=["eu"])
        eu = simulator_vendor(eu_url, rate_limit=RateLimitSettings(enabled=False))
        settings = base.model_copy(update={"accounts": {"eu": eu}})
        async with EventReader(kafka_bootstrap, topics.events) as reader, running_poller(settings):
            await reader.wait_for(
                lambda e: any(x["data"].get("user_id") == "emil" for x in e), what="emil"
            )
            events = reader.events + await reader.quiet(1.0)
        assert {e["account"] for e in events} == {"eu"}
        calls = (await sim.get("/_sim/calls")).json()["calls"]
        assert calls.get("/room/list", 0) == 0
        assert json.dumps(events).count("dora") == 0
