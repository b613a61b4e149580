"""Scenario: the cost of one poller cycle for 1,000 and 10,000 simulated rooms.

The simulator runs in its own process, populated through its scenario API with N open rooms
of two participants each. The poller's pieces run in this process, on uvloop like
``gateway run``: the vendor client with its HTTP pool, the observer, the pure diff,
CloudEvents encoding and a transactional Kafka producer publishing events and snapshot
records; so the CPU time and resident memory measured here are the poller's alone.
For each N, three cycles:

- ``first``: a fresh start, every room read (no per-cycle cap), participants and media-server
  counts: emits the initial snapshot (N room.opened, 2N participant.joined).
- ``steady``: the same sweep again after 1 % of the rooms changed (one mute each).
- ``capped``: the default settings' cycle with every kind due: the room list, participants
  and statistics of ``max_rooms_per_cycle`` (500) rooms, media-server counts. (The first
  statistics read of a room reports its counters, so this cycle emits up to 500 events.)

Right before each of the poller's cycles, a **bare read loop** makes that cycle's reads
against the same simulator and rooms, in the same process and event loop: the HTTP client
under the poller's vendor client (aiohttp, ``gateway/vendor_api/transport.py``: one session,
the same pool size and keep-alive, no cookie jar, form bodies) called directly, the same
endpoints and the same number of requests (token, room list, participant list and statistics
of the same number of rooms, 8 at a time, media-server counts), each answer parsed as JSON
and nothing else: no models, no diff, no events, no Kafka. Each cycle reports the CPU per
vendor read of both and their ratio (``poller_vs_bare_cpu_per_read``). The steady cycle is
then run ``--repeats`` more times (the same 1 % of rooms unmuted, muted, ...), each again
right after the bare loop; the report's headline is the median ratio of these steady pairs
at the largest N (the cycle the poller repeats while little changes).

Vendor calls come from the simulator's counters (token fetches included). "Changes made" is
what the harness did to the simulator before the cycle: N rooms opened with 2N participants
before ``first`` (plus the media server's count), one mute per 100 rooms before ``steady``,
nothing before ``capped`` (whose events are the first statistics of 500 rooms). Prints one
JSON line per cycle on stderr and the report as one JSON line on stdout, and writes
``bench/results/poller_cost.{json,png}``; needs Kafka (``scripts/services.sh up``).

    .venv/bin/python bench/poller_cost.py                 # N = 1000 and 10000
    .venv/bin/python bench/poller_cost.py --quick         # N = 1000
    .venv/bin/python bench/poller_cost.py --rooms 1000 --kafka 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import uvloop
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import simulator

from gateway import retry as retries
from gateway.app.embedded_simulator import simulator_vendor
from gateway.app.poller_role import build_poller_client
from gateway.poller import (
    AccountPolling,
    KafkaStateStore,
    Kind,
    Observer,
    ObserverConfig,
    Poller,
    PollerConfig,
    PollerState,
)
from gateway.settings import GatewaySettings, RateLimitSettings, RetrySettings, VendorSettings
from rigkit.topics import create_topics, unique_name

_FORM = {"content-type": "application/x-www-form-urlencoded"}


class _AlwaysLeader:
    held = True

    async def wait_changed(self, within: float | None = None) -> None:
        await asyncio.sleep(within or 0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _populate(url: str, rooms: int) -> None:
    """N open rooms with two participants each (the first join opens the room)."""
    limit = asyncio.Semaphore(64)
    async with httpx.AsyncClient(base_url=url, timeout=30) as sim:

        async def one(i: int) -> None:
            room_id = f"9{i:010d}"
            async with limit:
                for user in ("a", "b"):
                    body = {"user_id": f"{room_id}-{user}"}
                    r = await sim.post(f"/_sim/rooms/{room_id}/participants", json=body)
                    r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(rooms)))


async def _mute(url: str, rooms: list[int], status: str = "init") -> None:
    """Mute (``init``) or unmute (``published``) the first participant of each of ``rooms``."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as sim:
        for i in rooms:
            room_id = f"9{i:010d}"
            patch = {"audio": {"status": status}}
            r = await sim.patch(f"/_sim/rooms/{room_id}/participants/{room_id}-a", json=patch)
            r.raise_for_status()


async def _calls(url: str) -> int:
    async with httpx.AsyncClient(base_url=url) as sim:
        return int((await sim.get("/_sim/calls")).json()["total"])


async def _measure(
    label: str,
    poller: Poller,
    producer: AIOKafkaProducer,
    state: PollerState,
    due: set[Kind],
    url: str,
    rooms: int,
) -> tuple[PollerState, dict[str, Any]]:
    calls_before = await _calls(url)
    events_before = poller.stats.events
    cpu, wall = time.process_time(), time.perf_counter()
    state = await poller.cycle(producer, state, due)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    reads = poller.stats.last_cycle
    line = {
        "scenario": "poller_cost",
        "rooms": rooms,
        "cycle": label,
        "kinds": sorted(k.value for k in due),
        "vendor_calls": await _calls(url) - calls_before,
        "participant_reads": reads.participants_read if reads else 0,
        "statistics_reads": reads.statistics_read if reads else 0,
        "events": poller.stats.events - events_before,
        "cpu_s": round(cpu, 3),
        "cpu_s_exact": cpu,
        "wall_s": round(wall, 3),
        "rss_mb": round(_rss_mb(), 1),
    }
    print(json.dumps(line), file=sys.stderr, flush=True)
    return state, line


class BareReader:
    """The poller's reads and nothing else: aiohttp called directly (see the module's
    docstring), the answers parsed as JSON and dropped."""

    def __init__(self, url: str, vendor: VendorSettings, concurrency: int) -> None:
        self.url = url.rstrip("/")
        self.vendor = vendor
        self.concurrency = concurrency
        self.errors = 0  # answers that were not HTTP 200
        self.token: str | None = None
        # The poller's session: its pool size and keep-alive (HttpLimits), no cookie jar.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=vendor.max_connections, keepalive_timeout=vendor.keepalive_s
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def post(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        body = urlencode(params).encode()
        async with self.session.post(f"{self.url}/sdkapi/v2{path}", data=body, headers=_FORM) as r:
            if r.status != 200:
                self.errors += 1
            return json.loads(await r.read())  # type: ignore[no-any-return]

    async def cycle(self, due: set[Kind], max_rooms: int) -> None:
        """The requests a poller cycle makes for ``due``, over the first ``max_rooms`` rooms."""
        if self.token is None:
            access, secret = self.vendor.access_key, self.vendor.secret_key
            if access is None or secret is None:
                raise RuntimeError("the vendor settings have no keys")
            keys = {
                "access_key": access.get_secret_value(),
                "secret_key": secret.get_secret_value(),
            }
            self.token = str((await self.post("/app/get_token", keys))["token"])
        token = self.token
        limit = asyncio.Semaphore(self.concurrency)

        async def each(rooms: list[str], path: str, extra: dict[str, str]) -> None:
            async def one(room_id: str) -> None:
                async with limit:
                    await self.post(path, {**extra, "room_id": room_id, "token": token})

            await asyncio.gather(*(one(r) for r in rooms))

        if due & {Kind.PARTICIPANTS, Kind.STATISTICS}:
            listed = (await self.post("/room/list", {"token": token})).get("rooms") or []
            chosen = sorted(str(r["room_id"]) for r in listed)[:max_rooms]
            if Kind.PARTICIPANTS in due:
                await each(chosen, "/room/participate/list", {})
            if Kind.STATISTICS in due:
                end = math.ceil(time.time())
                window = {"start_time": str(end - 86400), "end_time": str(end)}
                await each(chosen, "/room/get_statistic", window)
        if Kind.MEDIA_SERVERS in due:
            await self.post("/media_server/user_count", {"token": token})

    async def aclose(self) -> None:
        await self.session.close()


async def _measure_bare(
    bare: BareReader, due: set[Kind], max_rooms: int, url: str
) -> dict[str, Any]:
    calls_before, errors_before = await _calls(url), bare.errors
    cpu, wall = time.process_time(), time.perf_counter()
    await bare.cycle(due, max_rooms)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "vendor_calls": await _calls(url) - calls_before,
        "errors": bare.errors - errors_before,
        "cpu_s": cpu,
        "wall_s": round(wall, 3),
    }


def _per_read(cpu_s: float, calls: int) -> float:
    return cpu_s * 1000 / calls if calls else float("nan")


async def _run(rooms: int, bootstrap: str, latency_ms: float, repeats: int) -> list[dict[str, Any]]:
    base = unique_name("bench-poller")
    await create_topics(bootstrap, [(f"{base}.events", 3), (f"{base}.state", 1)])
    lines = []
    with simulator(latency_ms=latency_ms) as url:
        started = time.perf_counter()
        await _populate(url, rooms)
        populate_s = time.perf_counter() - started
        settings = GatewaySettings(
            instance_id=base,
            vendor=simulator_vendor(url, rate_limit=RateLimitSettings(enabled=False)),
        )
        client = build_poller_client(settings, settings.vendor, None)
        retry = retries.vendor_calls(
            RetrySettings(max_attempts=3, initial_wait_s=0.05, max_wait_s=0.5)
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            transactional_id=f"{base}.poller",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )
        await producer.start()
        rss_before = _rss_mb()
        try:

            def poller(max_rooms: int) -> Poller:
                config = ObserverConfig(max_rooms=max_rooms, concurrency=8)
                return Poller(
                    PollerConfig(events_topic=f"{base}.events"),
                    _AlwaysLeader(),
                    {"default": AccountPolling(Observer(client, retry, config))},
                    KafkaStateStore(f"{base}.state", lambda **_: None),  # type: ignore[arg-type,return-value]
                    lambda: producer,
                )

            sweep = poller(max_rooms=rooms)
            kinds = {Kind.PARTICIPANTS, Kind.MEDIA_SERVERS}
            cap = ObserverConfig().max_rooms
            muted = list(range(0, rooms, 100))
            bare = BareReader(url, settings.vendor, ObserverConfig().concurrency)

            async def pair(
                label: str, poll: Poller, state: PollerState, due: set[Kind], max_rooms: int
            ) -> tuple[PollerState, dict[str, Any]]:
                """The bare loop's reads of a cycle, then the poller's cycle: one right after
                the other, so that both see the same machine."""
                b = await _measure_bare(bare, due, max_rooms, url)
                shown = {"scenario": "poller_cost", "loop": "bare", "rooms": rooms, "cycle": label}
                print(json.dumps({**shown, **b}), file=sys.stderr, flush=True)
                state, line = await _measure(label, poll, producer, state, due, url, rooms)
                poller_ms = _per_read(line.pop("cpu_s_exact"), line["vendor_calls"])
                bare_ms = _per_read(b["cpu_s"], b["vendor_calls"])
                line.update(
                    cpu_ms_per_read=round(poller_ms, 4),
                    bare_vendor_calls=b["vendor_calls"],
                    bare_errors=b["errors"],
                    bare_cpu_s=round(b["cpu_s"], 3),
                    bare_wall_s=b["wall_s"],
                    bare_cpu_ms_per_read=round(bare_ms, 4),
                    poller_vs_bare_cpu_per_read=(
                        round(poller_ms / bare_ms, 3) if bare_ms == bare_ms and bare_ms else None
                    ),
                )
                return state, line

            try:
                state, line = await pair("first", sweep, PollerState(), kinds, rooms)
                lines.append({**line, "changes_made": 3 * rooms + 1})
                await _mute(url, muted)
                state, line = await pair("steady", sweep, state, kinds, rooms)
                steady = {**line, "changes_made": len(muted)}
                lines.append(steady)
                capped = poller(max_rooms=cap)
                state, line = await pair("capped", capped, state, set(Kind), cap)
                lines.append({**line, "changes_made": 0})
                # The steady cycle again, each time after the same 1 % changed back and forth:
                # its CPU varies from run to run on a shared machine, the median less.
                again = []
                for r in range(repeats):
                    await _mute(url, muted, "published" if r % 2 == 0 else "init")
                    state, line = await pair("steady", sweep, state, kinds, rooms)
                    keep = ("events", "cpu_ms_per_read", "bare_cpu_ms_per_read")
                    again.append({k: line[k] for k in (*keep, "poller_vs_bare_cpu_per_read")})
                steady["steady_repeats"] = again
            finally:
                await bare.aclose()
        finally:
            await producer.stop()
            await client.aclose()
        for line in lines:
            line["populate_s"] = round(populate_s, 1)
            line["rss_before_mb"] = round(rss_before, 1)
    return lines


def plot(results: list[dict[str, Any]]) -> None:
    """Vendor calls, CPU s, RSS MB, and events vs changes made, per cycle and room count."""
    from plotting import figure, save

    fig, axes = figure(2, 2)
    cycles = ["first", "steady", "capped"]
    sizes = sorted({line["rooms"] for line in results})
    width = 0.8 / len(sizes)
    panels = [
        (axes[0][0], "vendor_calls", "vendor calls", True),
        (axes[0][1], "cpu_s", "CPU s (poller process; mark: bare read loop)", False),
        (axes[1][0], "rss_mb", "RSS MB after the cycle", False),
    ]
    shades = ["#9ecae1", "#3182bd", "#08519c"]
    for ax, key, title, log in panels:
        for j, rooms in enumerate(sizes):
            by_cycle = {line["cycle"]: line for line in results if line["rooms"] == rooms}
            xs = [k + (j - (len(sizes) - 1) / 2) * width for k in range(len(cycles))]
            ax.bar(
                xs,
                [by_cycle[c][key] for c in cycles],
                width,
                label=f"{rooms:,} rooms",
                color=shades[j % len(shades)],
            )
            if key == "cpu_s":  # the bare read loop's CPU for the same reads, as a mark
                ax.scatter(
                    xs,
                    [by_cycle[c]["bare_cpu_s"] for c in cycles],
                    marker="_",
                    s=200,
                    color="#d62728",
                    label="bare read loop" if j == 0 else None,
                    zorder=3,
                )
        ax.set_xticks(range(len(cycles)), cycles, fontsize=8)
        ax.set_title(title, fontsize=9)
        values = [line[key] for line in results]
        if log and max(values) > 20 * max(1e-9, min(values)):
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    axes[0][1].legend(fontsize=7)
    ax = axes[1][1]
    labels, events, changes = [], [], []
    for rooms in sizes:
        for c in cycles:
            line = next(x for x in results if x["rooms"] == rooms and x["cycle"] == c)
            labels.append(f"{rooms // 1000}k\n{c}")
            events.append(line["events"])
            changes.append(line["changes_made"])
    xs = list(range(len(labels)))
    ax.bar([x - 0.2 for x in xs], changes, 0.4, label="changes made", color="#fdae6b")
    ax.bar([x + 0.2 for x in xs], events, 0.4, label="events emitted", color="#e6550d")
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title("events emitted vs changes made", fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    fig.suptitle("poller cycle cost (simulator in its own process, rate limit off)", fontsize=10)
    save(fig, "poller_cost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, action="append", help="default: 1000 and 10000")
    parser.add_argument("--kafka", default=os.environ.get("GATEWAY_TEST_KAFKA", "127.0.0.1:9092"))
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulator latency")
    parser.add_argument("--quick", action="store_true", help="1,000 rooms only")
    parser.add_argument(
        "--repeats", type=int, default=3, help="steady cycles again, for the median (default 3)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    for rooms in args.rooms or ([1000] if args.quick else [1000, 10000]):
        # uvloop, as `gateway run` uses it.
        results += uvloop.run(_run(rooms, args.kafka, args.latency_ms, args.repeats))
    # The headline: the steady cycle (a full sweep, little changed) at the largest N, the
    # median of its bare-loop/poller pairs (the first and the repeats).
    steady = max((x for x in results if x["cycle"] == "steady"), key=lambda x: x["rooms"])
    pairs = [steady, *steady.get("steady_repeats", [])]
    ratios = [x["poller_vs_bare_cpu_per_read"] for x in pairs if x["poller_vs_bare_cpu_per_read"]]
    report = {
        "scenario": "poller_cost",
        "rooms": sorted({line["rooms"] for line in results}),
        "cycles": results,
        "poller_vs_bare_cpu_per_read": {
            "rooms": steady["rooms"],
            "cycle": "steady",
            "pairs": len(pairs),
            "poller_cpu_ms_per_read": round(
                statistics.median(x["cpu_ms_per_read"] for x in pairs), 4
            ),
            "bare_cpu_ms_per_read": round(
                statistics.median(x["bare_cpu_ms_per_read"] for x in pairs), 4
            ),
            "ratio": round(statistics.median(ratios), 3) if ratios else None,
            "ratio_min": min(ratios, default=None),
            "ratio_max": max(ratios, default=None),
        },
        "summary": {
            f"{line['rooms']}/{line['cycle']}": {
                k: line[k]
                for k in (
                    "vendor_calls",
                    "events",
                    "changes_made",
                    "cpu_s",
                    "wall_s",
                    "rss_mb",
                    "cpu_ms_per_read",
                    "bare_cpu_ms_per_read",
                    "poller_vs_bare_cpu_per_read",
                )
            }
            for line in results
        },
        "total_s": round(time.perf_counter() - started, 1),
    }
    # Imported only now: matplotlib would add ~45 MB to the RSS measured above.
    from plotting import emit

    plot(results)
    emit("poller_cost", report)


if __name__ == "__main__":
    main()
