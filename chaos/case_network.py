"""Network faults between the gateway and its dependencies, injected by the case's Toxiproxy
(chaos/toxi.py) on the replicas' links only (load, audit and simulator control go direct).

* ``net-vendor``: the commands replicas' vendor link (a) hangs (connections accept, the vendor
  executes, no answer comes back), (b) trickles (1 KB/s downstream), (c) cuts answers mid-body
  after the vendor executed the request. A mutation whose answer is lost must be reconciled by
  probe, never created twice.
* ``net-partition``: the commands replicas reach Kafka but not the vendor for a while.
* ``net-partition-poller``: the poller leader reaches the vendor but not Kafka; the other
  replica must take over, and the cut leader must publish nothing from its stale term. Its
  lease must lapse locally (no answer from the group coordinator for the session timeout):
  it logs the lapse and stops polling the vendor within the session timeout + 2 s of the cut.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.audit import Audit
from chaos.case_poller import (
    FAILOVER_S,
    INTERVAL_S,
    _burst,
    _events_read,
    _pollers_since,
    _seed_rooms,
    _start_pair,
    _wait_changes_seen,
    poller_env,
)
from chaos.case_poller import _audit as poller_audit
from chaos.kafkaio import Follower
from chaos.procs import Replica, Supervisor
from chaos.rig import CommandsRig, RigConfig
from chaos.services import kafka_bootstrap
from chaos.simctl import Sim, executed, sim_process
from chaos.toxi import proxied_links
from rigkit.topics import create_topics, unique_name

__all__ = ["net_partition", "net_partition_poller", "net_vendor"]

READ_TIMEOUT_S = 2.0
MAX_IN_FLIGHT = 64  # GATEWAY_COMMANDS__MAX_IN_FLIGHT's default, per replica
# A /room/create answer is about 173 bytes (status line and headers about 125, body 48): a
# connection closed after 500 bytes of answers delivers two creates' answers and the headers
# and part of the body of the third (other answers shift the cut, always inside an answer the
# vendor gave to a request it executed).
CUT_AFTER_BYTES = 500


@dataclass(frozen=True)
class NetVendorPlan:
    rate: float
    lead_s: float
    hang_s: float
    trickle_s: float
    cut_s: float
    gap_s: float  # a healthy stretch after each fault
    cut_share: float  # share of connections whose answers are cut in (c)

    @property
    def total_s(self) -> float:
        return self.lead_s + self.hang_s + self.trickle_s + self.cut_s + 3 * self.gap_s


def _window(log: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    return [e for e in log if start <= e["ts"] < end]


async def net_vendor(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """The vendor link hangs, trickles, then cuts answers mid-body, under RoomCreate load."""
    plan = (
        NetVendorPlan(15, 4, 10, 10, 10, 6, 1.0)
        if reduced
        else NetVendorPlan(20, 5, 20, 20, 20, 10, 1.0)
    )
    audit = Audit(
        "net-vendor",
        f"vendor link: hang {plan.hang_s:.0f} s, 1 KB/s {plan.trickle_s:.0f} s, answers cut "
        f"mid-body {plan.cut_s:.0f} s",
    )
    # The budget covers the hang plus the backlog it leaves (as vendor-outage's).
    config = RigConfig(
        "netvendor",
        budget_s=plan.hang_s + 60.0,
        read_timeout_s=READ_TIMEOUT_S,
        proxied=frozenset({"vendor"}),
    )
    count = int(plan.total_s * plan.rate)
    rig = CommandsRig(config, logs)
    phases: dict[str, tuple[float, float]] = {}
    async with rig:
        assert rig.sim is not None
        assert rig.proxy is not None
        proxy = rig.proxy
        load = asyncio.create_task(rig.send_commands(count, plan.rate))
        await asyncio.sleep(plan.lead_s)
        # (a) accept and never answer: the request reaches the vendor, the answer is held back
        # (Toxiproxy `timeout` with timeout 0 drops the data and keeps the connection open).
        t = time.time()
        await asyncio.to_thread(proxy.add_toxic, "vendor", "timeout", "downstream", timeout=0)
        await asyncio.sleep(plan.hang_s)
        await asyncio.to_thread(proxy.clear, "vendor")
        phases["hang"] = (t, time.time())
        await asyncio.sleep(plan.gap_s)
        # (b) a trickle: answers at 1 KB/s.
        t = time.time()
        await asyncio.to_thread(proxy.add_toxic, "vendor", "bandwidth", "downstream", rate=1)
        await asyncio.sleep(plan.trickle_s)
        await asyncio.to_thread(proxy.clear, "vendor")
        phases["trickle"] = (t, time.time())
        await asyncio.sleep(plan.gap_s)
        # (c) every connection closed after CUT_AFTER_BYTES of answers (Toxiproxy counts from
        # when the toxic is added, per connection): the vendor executed the request whose
        # answer is cut, the gateway reads a truncated answer and opens a new connection.
        t = time.time()
        await asyncio.to_thread(
            proxy.add_toxic,
            "vendor",
            "limit_data",
            "downstream",
            toxicity=plan.cut_share,
            bytes=CUT_AFTER_BYTES,
        )
        await asyncio.sleep(plan.cut_s)
        await asyncio.to_thread(proxy.clear, "vendor")
        phases["cut"] = (t, time.time())
        await load
        ended = await rig.wait_results(within=config.budget_s + 60)
        await rig.audit(audit, ended)
        log = await rig.sim.requests()
        results = _first_results(rig)
    audit.notes += rig.exit_notes()
    _vendor_phase_notes(audit, config.replicas, plan, phases, log, results)
    return audit


def _first_results(rig: CommandsRig) -> dict[str, dict[str, Any]]:
    """The first result per room id (command ``<case>-<i>-<nonce>`` creates room i)."""
    assert rig.follower is not None
    out: dict[str, dict[str, Any]] = {}
    for seen in rig.follower.records[rig.topics.results]:
        data = seen.data or {}
        parts = str(data.get("command_id", "")).split("-")
        if len(parts) == 3 and parts[1].isdigit():
            out.setdefault(str(rig.command(int(parts[1]))[1]["payload"]["room_id"]), data)
    return out


def _vendor_phase_notes(
    audit: Audit,
    replicas: int,
    plan: NetVendorPlan,
    phases: dict[str, tuple[float, float]],
    log: list[dict[str, Any]],
    results: dict[str, dict[str, Any]],
) -> None:
    reconciled_rooms = {
        room for room, data in results.items() if (data.get("result") or {}).get("reconciled")
    }
    per_phase: dict[str, dict[str, Any]] = {}
    for name, (start, end) in phases.items():
        seen = _window(log, start, end)
        rooms = {e["params"].get("room_id") for e in seen if e["path"] == "/room/create"}
        per_phase[name] = {
            "from_s": round(start - phases["hang"][0], 1),
            "seconds": round(end - start, 1),
            "vendor_requests": len(seen),
            "creates_executed": sum(1 for e in seen if e["path"] == "/room/create" and executed(e)),
            "reconciled_by_probe": len(rooms & reconciled_rooms),
        }
    probes = Counter(e["path"] for e in log if e["path"] == "/room/read")
    audit.details.update(
        phases=per_phase,
        reconciled_rooms=len(reconciled_rooms),
        probes=probes.get("/room/read", 0),
        read_timeout_s=READ_TIMEOUT_S,
    )
    hang, trickle, cut = per_phase["hang"], per_phase["trickle"], per_phase["cut"]
    if hang["vendor_requests"] == 0 or trickle["vendor_requests"] == 0:
        audit.problems.append("the hang or the trickle did not reach any request")
    if cut["creates_executed"] == 0:
        audit.problems.append("no create executed while answers were cut")
    audit.notes.append(
        f"vendor hang {hang['seconds']:.0f} s (answers held back, read timeout "
        f"{READ_TIMEOUT_S:.0f} s): {hang['vendor_requests']} requests unanswered, each a read "
        f"timeout ({hang['creates_executed']} creates executed at the vendor, the rest probes; "
        f"{replicas} replicas x {MAX_IN_FLIGHT} commands in flight, no other one started), "
        f"{hang['reconciled_by_probe']} of those commands reconciled by probe; "
        f"trickle {trickle['seconds']:.0f} s at 1 KB/s: {trickle['vendor_requests']} requests; "
        f"connections closed after {CUT_AFTER_BYTES} bytes of answers ({plan.cut_share:.0%} of "
        f"them) for {cut['seconds']:.0f} s: {cut['vendor_requests']} requests, "
        f"{cut['creates_executed']} creates executed, {cut['reconciled_by_probe']} reconciled by "
        f"probe; {len(reconciled_rooms)} results "
        f"reconciled by probe in all, {audit.details['probes']} /room/read probes; max attempts "
        f"of one command {audit.details.get('max_attempts')}"
    )


@dataclass(frozen=True)
class PartitionPlan:
    rate: float
    lead_s: float
    cut_s: float
    tail_s: float


async def net_partition(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """The commands replicas reach Kafka but not the vendor for a while, then again."""
    plan = PartitionPlan(15, 4, 20, 6) if reduced else PartitionPlan(20, 5, 60, 10)
    audit = Audit("net-partition", f"vendor link of the replicas cut {plan.cut_s:.0f} s")
    config = RigConfig(
        "netpart",
        budget_s=plan.cut_s + 60.0,
        read_timeout_s=READ_TIMEOUT_S,
        proxied=frozenset({"vendor"}),
    )
    count = int((plan.lead_s + plan.cut_s + plan.tail_s) * plan.rate)
    rig = CommandsRig(config, logs)
    async with rig:
        assert rig.sim is not None
        assert rig.proxy is not None
        load = asyncio.create_task(rig.send_commands(count, plan.rate))
        await asyncio.sleep(plan.lead_s)
        # Disabled: the proxy closes its connections (in-flight requests lose their answer)
        # and refuses new ones; Kafka and Redis stay reachable.
        cut_at = time.time()
        await asyncio.to_thread(rig.proxy.set_enabled, "vendor", False)
        await asyncio.sleep(plan.cut_s)
        await asyncio.to_thread(rig.proxy.set_enabled, "vendor", True)
        healed_at = time.time()
        await load
        ended = await rig.wait_results(within=config.budget_s + 60)
        await rig.audit(audit, ended)
        log = await rig.sim.requests()
    audit.notes += rig.exit_notes()
    during = _window(log, cut_at + 0.5, healed_at - 0.5)
    after = [e["ts"] for e in log if e["ts"] >= healed_at]
    first_after = (min(after) - healed_at) if after else float("inf")
    audit.details.update(
        cut_s=round(healed_at - cut_at, 1),
        requests_during_cut=len(during),
        first_request_after_heal_s=round(first_after, 2),
    )
    if during:
        audit.problems.append(f"{len(during)} requests reached the vendor through the cut link")
    audit.notes.append(
        f"vendor link disabled {healed_at - cut_at:.1f} s (connections closed, new ones "
        f"refused; Kafka and Redis reachable); first vendor request {first_after:.1f} s after "
        f"it came back; {audit.details.get('reconciled', 0)} results reconciled by probe; "
        f"retry budget (command deadline) {config.budget_s:.0f} s; max attempts of one command "
        f"{audit.details.get('max_attempts')}"
    )
    return audit


_LOG_TIME = re.compile(r'"time": "([^"]+)"')


def _log_lines(path: Path) -> list[tuple[float, str]]:
    """(unix time, line) of a replica's JSON log lines."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        found = _LOG_TIME.search(line)
        if found:
            stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
            out.append((stamp.timestamp(), line))
    return out


_EVENTS = re.compile(r"poller cycle of account \S+: (\d+) events")


# The lease lapses locally one session timeout (FAILOVER_S / 2) after the last heartbeat that
# was answered, sent at most a heartbeat interval before the cut; the margin covers that, a
# cycle's vendor reads already on the wire, and the time the term takes to stop its tasks.
SESSION_S = FAILOVER_S / 2
STOP_POLLING_S = SESSION_S + 2.0


def _after(lines: list[tuple[float, str]], since: float, needle: str) -> list[float]:
    return [t for t, line in lines if t >= since and needle in line]


async def net_partition_poller(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """Two pollers; the leader's Kafka link goes through the proxy and is cut (blackholed)
    during a burst of participant changes, then restored; the other's is direct."""
    rooms_n, initial_n, joins_n, burst_s = (6, 2, 60, 16.0) if reduced else (10, 3, 200, 30.0)
    cut_s = 20.0 if reduced else 40.0
    audit = Audit("net-partition-poller", f"poller leader's Kafka link blackholed {cut_s:.0f} s")
    budget = FAILOVER_S + 3 * INTERVAL_S
    audit.budget_s = budget
    base = unique_name("chaos-netpoll")
    await create_topics(kafka_bootstrap(), [(f"{base}.events", 3)])
    rooms = [f"67{i:09d}" for i in range(rooms_n)]
    entered = time.monotonic()
    with (
        sim_process(latency_ms=5.0, log=logs / "simulator.log") as url,
        proxied_links({"kafka"}, logs, kafka_bootstrap(), url) as links,
    ):
        # The Kafka proxy's address is one per machine: this waits while another case holds it.
        audit.details["kafka_proxy_wait_s"] = round(time.monotonic() - entered, 1)
        sim = Sim(url)
        proxy = links.proxy
        # poller-a (started first, so the leader) reaches Kafka through the proxy.
        replicas = [
            Replica(
                "poller-a",
                "poller",
                poller_env(base, "poller-a", url, links.addresses["kafka"]),
                logs / "poller-a.log",
            ),
            Replica("poller-b", "poller", poller_env(base, "poller-b", url), logs / "poller-b.log"),
        ]
        changes: list[dict[str, Any]] = []
        try:
            await _seed_rooms(sim, rooms, initial_n)
            async with Follower(kafka_bootstrap(), f"{base}.events") as follower:
                leader_name = await _start_pair(sim, replicas, follower, base, rooms_n * initial_n)
                if leader_name != "poller-a":
                    raise RuntimeError(f"the proxied poller-a is not the leader ({leader_name})")
                async with Supervisor(replicas) as supervisor:
                    cut_after = rng.uniform(0.2, 0.35) * burst_s
                    burst = asyncio.create_task(
                        _burst(sim, rooms, initial_n, joins_n, burst_s, rng, changes)
                    )
                    await asyncio.sleep(cut_after)
                    since = await sim.last_seq()
                    cut_at = time.time()
                    # Blackhole both ways: connections stay open, nothing gets through.
                    await asyncio.to_thread(
                        proxy.add_toxic, "kafka", "timeout", "upstream", timeout=0
                    )
                    await asyncio.to_thread(
                        proxy.add_toxic, "kafka", "timeout", "downstream", timeout=0
                    )
                    takeover = await _first_poll_by(sim, since, "poller-b", FAILOVER_S + 20)
                    await asyncio.sleep(max(0.0, cut_at + cut_s - time.time()))
                    await asyncio.to_thread(proxy.clear, "kafka")
                    healed_at = time.time()
                    await burst
                    await _wait_changes_seen(follower, base, changes, within=budget + 30)
                    # Long enough for the cut replica to notice it was expelled and fenced.
                    await asyncio.sleep(max(3.0, healed_at + 20 - time.time()))
                    ended = time.time()
                    events, arrivals = _events_read(follower, base)
                audit.notes += [f"supervisor: {e}" for e in supervisor.events]
            violations = await sim.violations()
            pollers = await _pollers_since(sim, since)
        finally:
            for replica in replicas:
                await asyncio.to_thread(replica.stop)
            await sim.aclose()
    poller_audit(audit, events, arrivals, changes, ended, budget)
    audit.violations = int(violations["count"])
    _partition_verdict(audit, logs, pollers, takeover, cut_at, healed_at, cut_after, burst_s)
    return audit


async def _first_poll_by(
    sim: Sim, since: int, name: str, within: float
) -> tuple[float, str] | None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        for t, who in await _pollers_since(sim, since):
            if who == name:
                return t, who
        await asyncio.sleep(0.2)
    return None


def _partition_verdict(
    audit: Audit,
    logs: Path,
    pollers: list[tuple[float, str]],
    takeover: tuple[float, str] | None,
    cut_at: float,
    healed_at: float,
    cut_after: float,
    burst_s: float,
) -> None:
    a = _log_lines(logs / "poller-a.log")
    b = _log_lines(logs / "poller-b.log")
    takeover_s = (takeover[0] - cut_at) if takeover else float("inf")
    # What poller-a published after the cut: its cycles log their events after the commit.
    a_events = sum(int(m.group(1)) for t, line in a if t >= cut_at and (m := _EVENTS.search(line)))
    a_terms = _after(a, cut_at, "poller lease acquired")
    a_released = _after(a, cut_at, "poller lease released")
    a_fenced = _after(a, cut_at, "producer fenced")
    a_polls = [t for t, who in pollers if who == "poller-a"]
    a_last_poll = max(a_polls, default=cut_at) - cut_at
    a_polls_cut = sum(1 for t in a_polls if t < healed_at)
    # After the lapse deadline: none at all (during the cut, and after it as a follower).
    a_polls_late = sum(1 for t in a_polls if t >= cut_at + STOP_POLLING_S)
    a_lapsed = _after(a, cut_at, "poller lease lapsed")
    b_terms = _after(b, cut_at, "poller lease acquired")
    audit.details.update(
        cut_at_s=round(cut_after, 1),
        cut_s=round(healed_at - cut_at, 1),
        takeover_s=round(takeover_s, 2),
        failover_s=FAILOVER_S,
        pollers_after_cut=dict(Counter(name for _, name in pollers)),
        a_events_after_cut=a_events,
        a_lease_acquired_after_cut=[round(t - cut_at, 1) for t in a_terms],
        a_lease_released_after_cut=[round(t - cut_at, 1) for t in a_released],
        a_fenced_after_cut=[round(t - cut_at, 1) for t in a_fenced],
        a_last_vendor_poll_after_cut_s=round(a_last_poll, 1),
        a_vendor_polls_during_cut=a_polls_cut,
        a_lease_lapsed_after_cut=[round(t - cut_at, 1) for t in a_lapsed],
        a_vendor_polls_after_stop_deadline=a_polls_late,
        stop_polling_deadline_s=STOP_POLLING_S,
        b_lease_acquired_after_cut=[round(t - cut_at, 1) for t in b_terms],
    )
    if takeover is None or takeover_s > FAILOVER_S:
        audit.problems.append(
            f"poller-b took over {takeover_s:.1f} s after the cut, failover setting "
            f"{FAILOVER_S:.0f} s"
        )
    if a_events:
        audit.problems.append(f"poller-a published {a_events} events after its Kafka link was cut")
    if a_terms:
        audit.problems.append(
            f"poller-a took the lease back {a_terms[0] - cut_at:.1f} s after the cut "
            f"(healed at +{healed_at - cut_at:.1f} s)"
        )
    allowed = f"(session timeout {SESSION_S:.0f} s + 2 s allowed)"
    if not a_lapsed:
        audit.problems.append(f"poller-a's log shows no lease lapse after the cut {allowed}")
    elif a_lapsed[0] - cut_at > STOP_POLLING_S:
        audit.problems.append(
            f"poller-a's lease lapsed only {a_lapsed[0] - cut_at:.1f} s after the cut {allowed}"
        )
    if a_polls_late:
        audit.problems.append(
            f"poller-a polled the vendor {a_polls_late} times later than "
            f"{STOP_POLLING_S:.0f} s after its Kafka link was cut"
        )
    kinds = {t: "lease lapsed" for t in a_lapsed}
    kinds |= {t: "lease released" for t in a_released}
    kinds |= {t: "producer fenced" for t in a_fenced}
    lost = min(kinds, default=None)
    lost_text = (
        f"poller-a dropped its term at +{lost - cut_at:.1f} s ({kinds[lost]})"
        if lost is not None
        else "poller-a never logged losing its term"
    )
    audit.notes.append(
        f"poller-a's Kafka link blackholed {cut_after:.1f} s into a {burst_s:.0f} s burst, "
        f"for {healed_at - cut_at:.1f} s; poller-b took over (first poll) at +{takeover_s:.1f} s "
        f"(failover setting {FAILOVER_S:.0f} s); poller-a polled the vendor "
        f"{a_polls_cut} times during the cut, last at +{a_last_poll:.1f} s, "
        f"{a_polls_late} times after +{STOP_POLLING_S:.0f} s; {lost_text}; "
        f"{a_events} events from poller-a after the cut; poller-a took the lease again "
        f"{len(a_terms)} times; waited {audit.details.get('kafka_proxy_wait_s', 0):.0f} s for "
        f"the machine's Kafka proxy address"
    )
