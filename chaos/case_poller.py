"""Case 6: two `gateway run --role poller` replicas; the leader is SIGKILLed in the middle of a
burst of changes made through the simulator's scenario API. Audit: every change reported
exactly once (by room, user and kind), no event id twice, gap-free sequences per room, the
takeover within the failover setting, no vendor-side rate-limit violation."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from chaos.audit import Audit
from chaos.kafkaio import Follower
from chaos.procs import Replica, Supervisor
from chaos.services import kafka_bootstrap, redis_url
from chaos.simctl import RATE_LIMIT, Sim, sim_process
from rigkit.topics import create_topics, unique_name

__all__ = ["poller_env", "poller_failover"]

FAILOVER_S = 12.0  # the smallest the broker allows (group.min.session.timeout.ms 6 s)
INTERVAL_S = 1.0  # participants (and room list) cadence


def poller_env(
    base: str, name: str, vendor_url: str, bootstrap: str | None = None
) -> dict[str, str]:
    """A poller replica's settings; ``bootstrap`` (e.g. the fault proxy's Kafka address)
    instead of the broker's own."""
    return {
        "GATEWAY_INSTANCE_ID": name,
        "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap or kafka_bootstrap(),
        "GATEWAY_KAFKA__EVENTS_TOPIC": f"{base}.events",
        "GATEWAY_VENDOR__BASE_URL": vendor_url,
        "GATEWAY_VENDOR__ACCESS_KEY": "demo_access",  # the simulator's demo account
        "GATEWAY_VENDOR__SECRET_KEY": "demo_secret",
        "GATEWAY_VENDOR__READ_TIMEOUT_S": "5",
        "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "true",
        "GATEWAY_VENDOR__RATE_LIMIT__RATE_PER_S": str(RATE_LIMIT["rate_per_s"]),
        "GATEWAY_VENDOR__RATE_LIMIT__BURST": str(RATE_LIMIT["burst"]),
        "GATEWAY_VENDOR__RATE_LIMIT__POLLER_SHARE": "0.5",
        "GATEWAY_REDIS__URL": redis_url(),
        "GATEWAY_RETRY__MAX_ATTEMPTS": "4",
        "GATEWAY_RETRY__INITIAL_WAIT_S": "0.05",
        "GATEWAY_RETRY__MAX_WAIT_S": "0.5",
        "GATEWAY_OPS__ENABLED": "false",
        "GATEWAY_LOG_LEVEL": "INFO",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_POLLER__PARTICIPANTS_INTERVAL_S": str(INTERVAL_S),
        "GATEWAY_POLLER__STATISTICS_INTERVAL_S": "5",
        "GATEWAY_POLLER__MEDIA_SERVERS_INTERVAL_S": "3",
        "GATEWAY_POLLER__JITTER": "0",
        "GATEWAY_POLLER__STATE_TOPIC": f"{base}.state",
        "GATEWAY_POLLER__LEASE_TOPIC": f"{base}.lease",
        "GATEWAY_POLLER__LEASE_GROUP": f"{base}.lease-group",
        "GATEWAY_POLLER__TRANSACTIONAL_ID": f"{base}.poller",
        "GATEWAY_POLLER__FAILOVER_S": str(FAILOVER_S),
    }


async def _pollers_since(sim: Sim, since: int) -> list[tuple[float, str]]:
    """(arrival, replica name) of poller requests after log entry ``since``."""
    out = []
    for e in await sim.requests(since=since):
        agent = e["headers"].get("user-agent", "")
        if " poller (" in agent:
            out.append((e["ts"], agent.rsplit("(", 1)[1].rstrip(")")))
    return out


async def _leader(sim: Sim, since: int, within: float) -> tuple[float, str] | None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        seen = await _pollers_since(sim, since)
        if seen:
            return seen[0]
        await asyncio.sleep(0.2)
    return None


async def _seed_rooms(sim: Sim, rooms: list[str], initial_n: int) -> None:
    """The rooms, each with ``initial_n`` participants (``init-0``, ...)."""
    for room in rooms:
        await sim.post("/_sim/rooms", {"room_id": room, "topic": "chaos"})
        for u in range(initial_n):
            await sim.post(f"/_sim/rooms/{room}/participants", {"user_id": f"init-{u}"})


async def _start_pair(
    sim: Sim, replicas: list[Replica], follower: Follower, base: str, initial_joins: int
) -> str:
    """Starts the first replica, which must poll (and so lead) within 60 s, then the second;
    waits for the events of the initial participants and for the second to join the lease
    group. Returns the name of the replica polling then (``?`` if none within 10 s)."""
    replicas[0].start()
    if await _leader(sim, 0, within=60) is None:
        raise RuntimeError("no poller polled within 60 s")
    replicas[1].start()
    await follower.wait_until(
        lambda: _count(follower, base, "participant.joined") >= initial_joins, 30
    )
    await asyncio.sleep(6)  # the second replica joins the lease group
    return (await _leader(sim, await sim.last_seq(), within=10) or (0, "?"))[1]


async def _wait_changes_seen(
    follower: Follower, base: str, changes: list[dict[str, Any]], within: float
) -> None:
    """Until every change has its event, or ``within`` seconds pass."""
    expected = len(changes)

    def all_seen() -> bool:
        return len(_matched(follower, base, changes)[0]) >= expected

    await follower.wait_until(all_seen, within=within)


def _events_read(follower: Follower, base: str) -> tuple[list[dict[str, Any]], list[float]]:
    """The events the follower read, parsed, and when each arrived."""
    records = follower.records[f"{base}.events"]
    return [json.loads(r.value or b"{}") for r in records], [r.t for r in records]


async def poller_failover(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    rooms_n, initial_n, joins_n, burst_s = (6, 2, 60, 10.0) if reduced else (10, 3, 200, 20.0)
    audit = Audit("6 poller-failover", "poller leader SIGKILLed during a change burst")
    budget = FAILOVER_S + 3 * INTERVAL_S
    audit.budget_s = budget
    base = unique_name("chaos-poller")
    await create_topics(kafka_bootstrap(), [(f"{base}.events", 3)])
    rooms = [f"66{i:09d}" for i in range(rooms_n)]
    with sim_process(latency_ms=5.0, log=logs / "simulator.log") as url:
        sim = Sim(url)
        replicas = [
            Replica(name, "poller", poller_env(base, name, url), logs / f"{name}.log")
            for name in ("poller-a", "poller-b")
        ]
        changes: list[dict[str, Any]] = []  # what was changed, when
        try:
            await _seed_rooms(sim, rooms, initial_n)
            async with Follower(kafka_bootstrap(), f"{base}.events") as follower:
                leader_name = await _start_pair(sim, replicas, follower, base, rooms_n * initial_n)
                leader = next(r for r in replicas if r.name == leader_name)
                async with Supervisor(replicas) as supervisor:
                    kill_at = rng.uniform(0.2, 0.5) * burst_s
                    burst = asyncio.create_task(
                        _burst(sim, rooms, initial_n, joins_n, burst_s, rng, changes)
                    )
                    await asyncio.sleep(kill_at)
                    with supervisor.paused(leader):
                        after_kill = await sim.last_seq()
                        leader.kill()
                        killed_at = time.time()
                        takeover = await _leader(sim, after_kill, within=FAILOVER_S + 20)
                        leader.start()  # back as a follower: the new leader must keep it
                    await burst
                    await _wait_changes_seen(follower, base, changes, within=budget + 30)
                    ended = time.time()
                    await asyncio.sleep(3)
                    events, arrivals = _events_read(follower, base)
                audit.notes += [f"supervisor: {e}" for e in supervisor.events]
            violations = await sim.violations()
            pollers = await _pollers_since(sim, after_kill)
        finally:
            for replica in replicas:
                await asyncio.to_thread(replica.stop)
            await sim.aclose()
    _audit(audit, events, arrivals, changes, ended, budget)
    audit.violations = int(violations["count"])
    new_leader = takeover[1] if takeover else None
    takeover_s = (takeover[0] - killed_at) if takeover else float("inf")
    audit.details.update(
        killed=leader.name,
        new_leader=new_leader,
        takeover_s=round(takeover_s, 2),
        failover_s=FAILOVER_S,
        kill_at_s=round(kill_at, 1),
        pollers_after_kill=dict(Counter(name for _, name in pollers)),
    )
    if takeover is None or takeover_s > FAILOVER_S:
        audit.problems.append(
            f"takeover took {takeover_s:.1f} s, failover setting {FAILOVER_S:.0f} s"
        )
    if new_leader == leader.name and takeover is not None:
        audit.notes.append("the killed replica polled first after the kill (restarted leader)")
    audit.notes.append(
        f"leader {leader.name} SIGKILLed {kill_at:.1f} s into a {burst_s:.0f} s burst of "
        f"{len(changes)} changes; {new_leader} took over in {takeover_s:.1f} s "
        f"(failover setting {FAILOVER_S:.0f} s)"
    )
    return audit


async def _burst(
    sim: Sim,
    rooms: list[str],
    initial_n: int,
    joins_n: int,
    seconds: float,
    rng: random.Random,
    changes: list[dict[str, Any]],
) -> None:
    """Joins of new users, and one change each (leave or mute) for the initial users, spread
    evenly over ``seconds``; each participant changes at most once, so each change must show
    as exactly one event."""
    plan: list[tuple[str, str, str]] = [
        ("joined", rooms[i % len(rooms)], f"u{i}") for i in range(joins_n)
    ]
    for room in rooms:
        for u in range(initial_n):
            plan.append((rng.choice(["left", "changed"]), room, f"init-{u}"))
    rng.shuffle(plan)
    t0 = time.monotonic()
    for n, (kind, room, user) in enumerate(plan):
        await asyncio.sleep(max(0.0, t0 + n * seconds / len(plan) - time.monotonic()))
        if kind == "joined":
            await sim.post(f"/_sim/rooms/{room}/participants", {"user_id": user})
        elif kind == "left":
            await sim.delete(f"/_sim/rooms/{room}/participants/{user}")
        else:
            answer = await sim.http.patch(
                f"/_sim/rooms/{room}/participants/{user}", json={"audio": {"status": "init"}}
            )
            answer.raise_for_status()
        changes.append({"kind": kind, "room": room, "user": user, "t": time.time()})


def _count(follower: Follower, base: str, kind: str) -> int:
    return sum(
        1
        for r in follower.records[f"{base}.events"]
        if f'"avd.{kind}"'.encode() in (r.value or b"")
    )


def _matched(
    follower: Follower, base: str, changes: list[dict[str, Any]]
) -> tuple[dict[tuple[str, str, str], float], Counter[tuple[str, str, str]]]:
    wanted = {(c["kind"], c["room"], c["user"]) for c in changes}
    first: dict[tuple[str, str, str], float] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for r in follower.records[f"{base}.events"]:
        e = json.loads(r.value or b"{}")
        kind = str(e.get("type", "")).removeprefix("avd.participant.")
        data = e.get("data") or {}
        k = (kind, str(data.get("room_id")), str(data.get("user_id")))
        if k in wanted:
            counts[k] += 1
            first.setdefault(k, r.t)
    return first, counts


def _audit(
    audit: Audit,
    events: list[dict[str, Any]],
    arrivals: list[float],
    changes: list[dict[str, Any]],
    ended: float,
    budget: float,
) -> None:
    wanted = {(c["kind"], c["room"], c["user"]): c["t"] for c in changes}
    first: dict[tuple[str, str, str], float] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for e, t in zip(events, arrivals, strict=True):
        kind = str(e.get("type", "")).removeprefix("avd.participant.")
        data = e.get("data") or {}
        k = (kind, str(data.get("room_id")), str(data.get("user_id")))
        if k in wanted:
            counts[k] += 1
            first.setdefault(k, t)
    audit.sent = len(wanted)
    audit.results = len(first)
    audit.missing = len(wanted) - len(first)
    ids = Counter(e.get("id") for e in events)
    audit.duplicates = sum(n - 1 for n in ids.values() if n > 1) + sum(
        n - 1 for n in counts.values() if n > 1
    )
    delays = [first[k] - t for k, t in wanted.items() if k in first]
    delays += [ended - t for k, t in wanted.items() if k not in first]
    audit.max_stall_s = round(max(delays, default=0.0), 2)
    # Sequences count per room opening: a room.opened starts a new run at 1.
    sequences: dict[str, list[list[int]]] = defaultdict(lambda: [[]])
    for e in events:
        runs = sequences[f"{e.get('account')}/{e.get('partitionkey')}"]
        if str(e.get("type", "")).endswith(".room.opened") and runs[-1]:
            runs.append([])
        runs[-1].append(int((e.get("data") or {}).get("sequence", 0)))
    gaps = {
        k: runs
        for k, runs in sequences.items()
        if any(run != list(range(1, len(run) + 1)) for run in runs)
    }
    if gaps:
        audit.problems.append(
            f"sequence gaps or repeats in {len(gaps)} rooms/servers: {list(gaps.items())[:2]}"
        )
    if audit.missing:
        lost = [k for k in wanted if k not in first][:5]
        audit.details["missing_examples"] = [list(k) for k in lost]
    audit.details.update(
        events=len(events),
        by_type=dict(Counter(e.get("type") for e in events)),
        change_to_event_p50_s=round(sorted(delays)[len(delays) // 2], 2) if delays else None,
    )
    audit.notes.append(
        f"max stall = longest time from a change to its event (budget: failover {FAILOVER_S:.0f} s "
        f"+ 3 participant cycles)"
    )
