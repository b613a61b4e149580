"""One cycle's vendor reads against the simulator (served in-process over loopback HTTP): what
is read, what is left out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from gateway import retry
from gateway.app.embedded_simulator import embedded_simulator, free_port
from gateway.poller.diff import Observation, diff
from gateway.poller.model import PollerState
from gateway.poller.observe import Observer, ObserverConfig
from gateway.poller.schedule import Kind
from gateway.ratelimit import InProcessRateLimiter, Lane
from gateway.settings import RetrySettings
from gateway.simulator import SimulatorSettings
from gateway.vendor_api import VendorClient
from gateway.vendor_api.generated.endpoints.room import ROOM_LIST, RoomListRequest
from tests.vendor_server import transport


@dataclass
class Rig:
    """A fresh simulator, its scenario API, and a vendor client on it."""

    sim: httpx.AsyncClient
    client: VendorClient


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """A fresh simulator served in this process; both clients talk to it over HTTP."""
    async with (
        embedded_simulator(SimulatorSettings(seed=1, port=free_port())) as url,
        httpx.AsyncClient(base_url=url) as sim,
    ):
        client = VendorClient(
            transport(url), access_key=SecretStr("demo_access"), secret_key=SecretStr("demo_secret")
        )
        yield Rig(sim, client)
        await client.aclose()


FAST = retry.vendor_calls(RetrySettings(max_attempts=4, initial_wait_s=0.001, max_wait_s=0.01))


async def _populate(sim: httpx.AsyncClient) -> None:
    for room_id in ("r1", "r2", "r3"):
        (await sim.post("/_sim/rooms", json={"room_id": room_id})).raise_for_status()
    for user in ("a", "b"):
        (await sim.post("/_sim/rooms/r1/participants", json={"user_id": user})).raise_for_status()


async def test_a_full_cycle_reads_every_kind(rig: Rig) -> None:
    """Room list, participants and statistics of each open room, and the server counts."""
    await _populate(rig.sim)
    observer = Observer(rig.client, FAST, ObserverConfig())
    observation, stats = await observer.observe(set(Kind), PollerState())
    assert observation.rooms is not None
    assert set(observation.rooms) == {"r1", "r2", "r3"}
    assert set(observation.participants["r1"]) == {"a", "b"}
    assert observation.participants["r2"] == {}
    assert observation.statistics["r1"]["user_cnt"] == 2
    assert observation.servers == {"box1": 2}
    assert observation.statistics_window is not None
    start, end = observation.statistics_window
    assert end - start == 86400
    # token + room list + 3 participant lists + 3 statistics + 1 media-server count
    assert stats.calls == 8
    assert (await rig.sim.get("/_sim/calls")).json()["total"] == 9


async def test_only_due_kinds_are_read(rig: Rig) -> None:
    """Media servers alone: no room list, nothing room-scoped in the observation."""
    await _populate(rig.sim)
    observation, _ = await Observer(rig.client, FAST, ObserverConfig()).observe(
        {Kind.MEDIA_SERVERS}, PollerState()
    )
    assert observation.rooms is None
    assert observation.participants == {}
    assert observation.servers == {"box1": 2}


async def test_watched_rooms_only(rig: Rig) -> None:
    """With a list of rooms to watch, the others are neither reported nor read."""
    await _populate(rig.sim)
    observer = Observer(rig.client, FAST, ObserverConfig(watch=frozenset({"r2", "r9"})))
    observation, _ = await observer.observe({Kind.PARTICIPANTS}, PollerState())
    assert observation.rooms is not None
    assert set(observation.rooms) == {"r2"}
    assert set(observation.participants) == {"r2"}
    calls = (await rig.sim.get("/_sim/calls")).json()["calls"]
    assert calls["/room/participate/list"] == 1


async def test_max_rooms_per_cycle_and_round_robin(rig: Rig) -> None:
    """Two rooms per cycle out of three: the rooms are read in turn."""
    await _populate(rig.sim)
    observer = Observer(rig.client, FAST, ObserverConfig(max_rooms=2))
    state = PollerState()
    read: list[set[str]] = []
    for _ in range(3):
        observation, _ = await observer.observe({Kind.PARTICIPANTS}, state)
        read.append(set(observation.participants))
        state = diff(state, observation).state
    assert read[0] == {"r1", "r2"}  # all new: the first two
    # r3 is empty per the room list, so nothing about it is urgent: plain round-robin.
    assert read[1] == {"r1", "r2"}
    assert read[2] == {"r3", "r1"}


async def test_a_failing_participant_read_is_left_out_after_retries(rig: Rig) -> None:
    """41003 on every participant read: retried per policy, then missing (not empty)."""
    await _populate(rig.sim)
    faults = {"per_path": {"/room/participate/list": {"error_rates": {"41003": 1.0}}}}
    (await rig.sim.put("/_sim/faults", json=faults)).raise_for_status()
    observation, stats = await Observer(rig.client, FAST, ObserverConfig()).observe(
        {Kind.PARTICIPANTS}, PollerState()
    )
    assert observation.rooms is not None
    assert observation.participants == {}
    assert stats.failed == {"participant list": 3}
    rets = (await rig.sim.get("/_sim/calls")).json()["rets"]["/room/participate/list"]
    assert rets == {"41003": 3 * FAST.max_attempts}


async def test_transient_errors_are_retried_until_they_pass(rig: Rig) -> None:
    """A flaky room list (41003 half the time) still gets read."""
    await _populate(rig.sim)
    faults = {"per_path": {"/room/list": {"error_rates": {"41003": 0.5}}}}
    (await rig.sim.put("/_sim/faults", json=faults)).raise_for_status()
    policy = retry.vendor_calls(
        RetrySettings(max_attempts=30, initial_wait_s=0.001, max_wait_s=0.01)
    )
    for _ in range(5):
        observation, _ = await Observer(rig.client, policy, ObserverConfig()).observe(
            {Kind.PARTICIPANTS}, PollerState()
        )
        assert observation.rooms is not None


async def test_no_media_server_online_is_an_empty_answer(rig: Rig) -> None:
    """11003 from /media_server/user_count means "none online", not a failed read."""
    (await rig.sim.put("/_sim/media_servers/box1", json={"online": False})).raise_for_status()
    observation, stats = await Observer(rig.client, FAST, ObserverConfig()).observe(
        {Kind.MEDIA_SERVERS}, PollerState()
    )
    assert observation.servers == {}
    assert stats.failed == {}


async def test_reads_draw_on_the_poller_lane(rig: Rig) -> None:
    """Every request of a cycle asks the limiter for a poller slot."""
    lanes: list[Lane] = []

    class Recording(InProcessRateLimiter):
        async def acquire(
            self, lane: Lane = Lane.COMMANDS, deadline: float | None = None, path: str | None = None
        ) -> float:
            lanes.append(lane)
            return await super().acquire(lane, deadline, path)

    async with embedded_simulator(SimulatorSettings(port=free_port())) as url:
        client = VendorClient(
            transport(url),
            access_key=SecretStr("demo_access"),
            secret_key=SecretStr("demo_secret"),
            limiter=Recording(1000.0, 10),
        )
        try:
            await Observer(client, FAST, ObserverConfig()).observe(set(Kind), PollerState())
        finally:
            await client.aclose()
    assert lanes
    assert set(lanes) == {Lane.POLLER}


def test_observation_defaults_mean_not_read() -> None:
    """An empty observation reads nothing: rooms and servers None."""
    observation = Observation("t")
    assert (observation.rooms, observation.servers) == (None, None)


async def test_an_empty_participant_list_for_a_listed_room_is_not_trusted(rig: Rig) -> None:
    """Users in the room list but none in the participant list (the room closed in between):
    the room is left out of this cycle rather than reported as emptied."""
    await _populate(rig.sim)
    listed = await rig.client.room_list(RoomListRequest())
    (await rig.sim.post("/_sim/rooms/r1/close")).raise_for_status()

    class Stale:
        """A client whose room list is the one read before the close."""

        async def call(self, endpoint: object, request: object, budget: object) -> object:
            if endpoint is ROOM_LIST:
                return listed
            return await rig.client.call(endpoint, request, budget)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return getattr(rig.client, name)

    observer = Observer(Stale(), FAST, ObserverConfig())  # type: ignore[arg-type]
    observation, stats = await observer.observe({Kind.PARTICIPANTS}, PollerState())
    assert observation.rooms is not None
    assert "r1" in observation.rooms
    assert "r1" not in observation.participants
    assert observation.participants["r2"] == {}  # listed without users: empty is believable
    assert stats.failed == {"participant list (changed meanwhile)": 1}


async def test_a_room_that_closed_has_its_statistics_read_once_more(rig: Rig) -> None:
    """The room list no longer has r1: its statistics are read after the close (the vendor
    keeps them, with the meeting's time), as its final ones; the diff then deletes it."""
    await _populate(rig.sim)
    observer = Observer(rig.client, FAST, ObserverConfig())
    observation, _ = await observer.observe({Kind.PARTICIPANTS}, PollerState())
    state = diff(PollerState(), observation).state
    (await rig.sim.post("/_sim/rooms/r1/close")).raise_for_status()
    observation, stats = await observer.observe({Kind.PARTICIPANTS}, state)
    assert set(observation.final_statistics) == {"r1"}
    assert observation.final_statistics["r1"]["meeting_total"] == 1
    assert stats.final_statistics_read == 1
    result = diff(state, observation)
    assert [c.name for c in result.changes][-2:] == ["room.closed", "room.statistics.changed"]
    assert result.changes[-1].data["final"] is True
    assert result.removed_rooms == {"r1"}


async def test_a_closed_room_whose_statistics_stay_unreadable_is_given_up(rig: Rig) -> None:
    """Final statistics failing past the grace: the room is abandoned (no final event)."""
    await _populate(rig.sim)
    now = [1000.0]
    observer = Observer(
        rig.client, FAST, ObserverConfig(final_statistics_grace_s=60), clock=lambda: now[0]
    )
    observation, _ = await observer.observe({Kind.PARTICIPANTS}, PollerState())
    state = diff(PollerState(), observation).state
    (await rig.sim.post("/_sim/rooms/r1/close")).raise_for_status()
    faults = {"per_path": {"/room/get_statistic": {"error_rates": {"41003": 1.0}}}}
    (await rig.sim.put("/_sim/faults", json=faults)).raise_for_status()
    observation, stats = await observer.observe({Kind.PARTICIPANTS}, state)
    assert (observation.final_statistics, observation.abandoned) == ({}, frozenset())
    assert stats.failed["statistics"] == 1
    state = diff(state, observation).state
    assert state.closing_rooms().keys() == {"r1"}
    now[0] += 61
    observation, _ = await observer.observe({Kind.PARTICIPANTS}, state)
    assert observation.abandoned == {"r1"}
    assert "r1" not in diff(state, observation).state.rooms


async def test_reads_that_miss_the_window_are_deferred_not_failed() -> None:
    """A limiter of 5 requests/s and a 1 s window: the room list and a few reads get a slot,
    the others are deferred to later cycles (counted, not failures), quickly."""
    async with embedded_simulator(SimulatorSettings(port=free_port())) as url:
        sim = httpx.AsyncClient(base_url=url)
        for i in range(20):
            (await sim.post("/_sim/rooms", json={"room_id": f"r{i:02d}"})).raise_for_status()
        await sim.aclose()
        client = VendorClient(
            transport(url),
            access_key=SecretStr("demo_access"),
            secret_key=SecretStr("demo_secret"),
            limiter=InProcessRateLimiter(5.0 / 0.2, 2, poller_share=0.2, borrow=False),
        )
        try:
            observer = Observer(client, FAST, ObserverConfig(reads_window_s=1.0))
            started = asyncio.get_running_loop().time()
            observation, stats = await observer.observe({Kind.PARTICIPANTS}, PollerState())
            took = asyncio.get_running_loop().time() - started
        finally:
            await client.aclose()
    assert observation.rooms is not None
    assert len(observation.rooms) == 20
    assert 0 < len(observation.participants) < 20
    # Deferred in the first part, and again in the second (the same window here).
    assert stats.deferred >= 20 - len(observation.participants)
    assert stats.failed == {}
    assert took < 2.0


async def test_a_cycle_publishes_what_the_room_list_tells_before_the_other_reads(rig: Rig) -> None:
    """With a publisher: the first part (room list, the changed room's participants) is handed
    over before the round-robin reads, which come back as the second part."""
    await _populate(rig.sim)
    observer = Observer(rig.client, FAST, ObserverConfig())
    observation, _ = await observer.observe({Kind.PARTICIPANTS}, PollerState())
    state = diff(PollerState(), observation).state
    (await rig.sim.post("/_sim/rooms/r2/participants", json={"user_id": "c"})).raise_for_status()
    parts: list[Observation] = []
    reads_before_publish: list[int] = []

    async def publish(first: Observation) -> PollerState:
        parts.append(first)
        calls = (await rig.sim.get("/_sim/calls")).json()["calls"]
        reads_before_publish.append(calls["/room/participate/list"])
        return diff(state, first).state

    second, stats = await observer.observe({Kind.PARTICIPANTS}, state, publish)
    (first,) = parts
    assert first.rooms is not None
    assert set(first.participants) == {"r2"}  # the room whose users changed, in full
    assert set(first.participants["r2"]) == {"c"}
    assert second.rooms is None
    assert set(second.participants) == {"r1", "r3"}  # the others, round-robin, after it
    assert reads_before_publish == [3 + 1]  # the first cycle's three, then r2's
    assert stats.participants_read == 3


def _pending() -> float:
    return REGISTRY.get_sample_value("gateway_poller_reads_pending") or 0.0


async def test_pending_reads_are_counted_until_each_room_read_ends(rig: Rig) -> None:
    """gateway_poller_reads_pending: a cycle's per-room reads (a task each) from the moment
    they are started until each one ends, also when the cycle is cancelled before they run."""
    observer = Observer(rig.client, FAST, ObserverConfig(concurrency=1))
    before = _pending()
    gate = asyncio.Event()

    async def read(room_id: str) -> str:
        await gate.wait()
        return room_id

    reads = asyncio.create_task(observer._gather(["r1", "r2", "r3"], read))
    await asyncio.sleep(0.01)
    assert _pending() == before + 3  # one holds the slot, two wait for it
    gate.set()
    assert await reads == {"r1": "r1", "r2": "r2", "r3": "r3"}
    await asyncio.sleep(0)  # the done callbacks
    assert _pending() == before
    gate.clear()
    cancelled = asyncio.create_task(observer._gather(["r1", "r2"], read))
    await asyncio.sleep(0)  # the reads are created, none has run yet
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.sleep(0.01)
    assert _pending() == before
