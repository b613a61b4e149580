"""Network faults on one link of the gateway replicas, injected with the case's Toxiproxy
(chaos/toxi.py) while two commands replicas on Redis take paced RoomCreate load:

* ``net-kafka``: the broker link gets latency with jitter, then bursts of TCP resets timed to
  hit transaction commits, then a blackhole (data stops, connections stay open), then heals;
* ``net-redis``: the Redis link (idempotency claims and the shared rate limit) gets 500 ms of
  latency, then a storm of resets and proxy flaps.

The load producer, the audit's follower and the simulator's control API go direct, so only
the gateway sees the faults. Every fault is recorded (when, how long, what it hit) for the
audit's notes and ``details``.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.audit import Audit
from chaos.rig import CommandsRig, RigConfig
from chaos.toxi import Toxiproxy

__all__ = ["net_kafka", "net_redis"]


class FaultLog:
    """What was injected when, on the case's clock (seconds since the load started)."""

    def __init__(self, proxy: Toxiproxy, link: str, toxi_log: Path) -> None:
        self.proxy = proxy
        self.link = link
        self.toxi_log = toxi_log
        self.t0 = time.monotonic()
        self.events: list[dict[str, Any]] = []

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def mark(self, what: str, **info: Any) -> None:
        self.events.append({"at_s": self.now(), "what": what, **info})

    def connections(self) -> int:
        """Client connections the link's proxy accepted so far (each reset or cut is
        followed by a reconnect, so the growth during a phase counts the connections lost)."""
        try:
            text = self.toxi_log.read_text(errors="replace")
        except OSError:
            return 0
        needle = f'"name":"{self.link}"'
        return sum(1 for line in text.splitlines() if "Accepted client" in line and needle in line)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # The API client is synchronous (httpx.Client): off the event loop, so the load
        # producer and the follower keep their pace while a toxic is added.
        return await asyncio.to_thread(fn, *args, **kwargs)


async def _sleep_until(t0: float, at_s: float) -> None:
    await asyncio.sleep(max(0.0, t0 + at_s - time.monotonic()))


@dataclass(frozen=True)
class Storm:
    """Fault windows, toggled: each window lasts ``on_s`` (drawn), then ``off_s`` healthy."""

    seconds: float
    on_s: tuple[float, float]
    off_s: tuple[float, float]


async def _storm(
    faults: FaultLog,
    storm: Storm,
    rng: random.Random,
    kinds: list[str],
    *,
    toxicity: float,
    reset_timeout_ms: int,
) -> Counter[str]:
    """Toggle fault windows for ``storm.seconds``, cycling through ``kinds``:
    ``reset_up`` (reset_peer on the upstream: the next request on a struck connection is
    dropped and the connection reset), ``reset_down`` (reset_peer on the downstream: the
    server did the request, its answer is lost with the connection), ``flap`` (the proxy
    disabled: every connection closed, new ones refused, until it is enabled again).
    Returns how many windows of each kind ran."""
    proxy, link = faults.proxy, faults.link
    windows: Counter[str] = Counter()
    end = time.monotonic() + storm.seconds
    i = 0
    while time.monotonic() < end:
        kind = kinds[i % len(kinds)]
        i += 1
        on = rng.uniform(*storm.on_s)
        if kind == "flap":
            await faults.call(proxy.set_enabled, link, False)
            await asyncio.sleep(on)
            await faults.call(proxy.set_enabled, link, True)
        else:
            stream = "upstream" if kind == "reset_up" else "downstream"
            name = await faults.call(
                proxy.add_toxic,
                link,
                "reset_peer",
                stream,
                toxicity=toxicity,
                timeout=reset_timeout_ms,
            )
            await asyncio.sleep(on)
            await faults.call(proxy.remove_toxic, link, name)
        windows[kind] += 1
        await asyncio.sleep(min(rng.uniform(*storm.off_s), max(0.0, end - time.monotonic())))
    return windows


async def _latency_phase(
    faults: FaultLog, at: float, seconds: float, latency_ms: int, jitter_ms: int | None = None
) -> dict[str, Any]:
    """Latency (with jitter, if given) on the link's answers from ``at`` for ``seconds`` on
    the case's clock; returns the phase's record."""
    await _sleep_until(faults.t0, at)
    before = faults.connections()
    jitter: dict[str, int] = {}
    if jitter_ms is None:
        faults.mark("latency on", latency_ms=latency_ms)
    else:
        faults.mark("latency on", latency_ms=latency_ms, jitter_ms=jitter_ms)
        jitter = {"jitter": jitter_ms}
    name = await faults.call(
        faults.proxy.add_toxic, faults.link, "latency", "downstream", latency=latency_ms, **jitter
    )
    await _sleep_until(faults.t0, at + seconds)
    await faults.call(faults.proxy.remove_toxic, faults.link, name)
    faults.mark("latency off")
    return {"from_s": at, "seconds": seconds, "reconnects": faults.connections() - before}


async def _storm_phase(
    faults: FaultLog,
    at: float,
    storm: Storm,
    rng: random.Random,
    kinds: list[str],
    *,
    what: str,
    toxicity: float,
    reset_timeout_ms: int,
    stretch_latency_ms: int | None = None,
) -> dict[str, Any]:
    """A storm (``_storm``) from ``at`` on the case's clock, marked ``what`` on/off, over
    ``stretch_latency_ms`` (jitter half of it) on the answers if given; returns the phase's
    record."""
    await _sleep_until(faults.t0, at)
    before = faults.connections()
    stretch = None
    if stretch_latency_ms is None:
        faults.mark(f"{what} on")
    else:
        faults.mark(f"{what} on", stretch_latency_ms=stretch_latency_ms)
        stretch = await faults.call(
            faults.proxy.add_toxic, faults.link, "latency", "downstream",
            latency=stretch_latency_ms, jitter=stretch_latency_ms // 2,
        )  # fmt: skip
    windows = await _storm(
        faults, storm, rng, kinds, toxicity=toxicity, reset_timeout_ms=reset_timeout_ms
    )
    if stretch is not None:
        await faults.call(faults.proxy.remove_toxic, faults.link, stretch)
    faults.mark(f"{what} off", windows=dict(windows))
    return {
        "from_s": at,
        "seconds": storm.seconds,
        "windows": dict(windows),
        "reconnects": faults.connections() - before,
        "until_s": faults.now(),
    }


def _log_lines(logs: Path, prefix: str) -> list[dict[str, Any]]:
    """The JSON log lines of the case's replicas (other lines skipped)."""
    lines = []
    for path in sorted(logs.glob(f"{prefix}-*.log")):
        for raw in path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append({"replica": path.stem, **json.loads(raw)})
                except json.JSONDecodeError:
                    continue
    return lines


def _message(line: dict[str, Any]) -> str:
    return str(line.get("message") or line.get("msg") or line.get("event") or "")


# -- net-kafka ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KafkaNetPlan:
    rate: float
    lead_s: float
    latency_s: float
    gap_s: float
    storm: Storm
    blackhole_s: float
    tail_s: float

    @property
    def load_s(self) -> float:
        return (
            self.lead_s
            + self.latency_s
            + self.gap_s
            + self.storm.seconds
            + self.gap_s
            + self.blackhole_s
            + self.tail_s
        )


LATENCY_MS, JITTER_MS = 200, 100
STORM_LATENCY_MS = 50


async def net_kafka(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """Latency with jitter, a reset storm during commits, a blackhole: on the broker link."""
    plan = (
        KafkaNetPlan(20, 4, 10, 5, Storm(8, (0.3, 0.6), (0.4, 0.8)), 10, 6)
        if reduced
        else KafkaNetPlan(30, 10, 30, 10, Storm(20, (0.3, 0.6), (0.5, 1.0)), 20, 15)
    )
    audit = Audit(
        "7 net-kafka",
        f"broker link: {LATENCY_MS}±{JITTER_MS} ms {plan.latency_s:.0f} s, resets during "
        f"commits {plan.storm.seconds:.0f} s, blackhole {plan.blackhole_s:.0f} s",
    )
    # A blackhole longer than the session timeout (10 s) costs both replicas their group
    # membership, longer than the transaction timeout (15 s) their open transactions; the
    # budget covers the blackhole, the rejoin and the backlog it leaves.
    config = RigConfig("netk", budget_s=90.0, proxied=frozenset({"kafka"}))
    rig = CommandsRig(config, logs)
    count = int(plan.load_s * plan.rate)
    phases: dict[str, dict[str, Any]] = {}
    async with rig:
        assert rig.proxy is not None
        faults = FaultLog(rig.proxy, "kafka", logs / "toxiproxy.log")
        load = asyncio.create_task(rig.send_commands(count, plan.rate))
        t0 = faults.t0
        try:
            at = plan.lead_s
            # (a) latency with jitter on the answers: every round trip to the broker (fetch,
            # produce, each transaction step, heartbeats) takes 100-300 ms longer.
            phases["latency"] = await _latency_phase(
                faults, at, plan.latency_s, LATENCY_MS, JITTER_MS
            )
            at += plan.latency_s + plan.gap_s
            # (b) resets during commits: windows of reset_peer, alternately on the requests
            # (dropped before the broker) and on the answers (the broker did it, the answer is
            # lost), each striking half the connections. Under load a transaction is always
            # open, and the producer's coordinator connection carries nothing but its steps
            # (AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn), so a struck
            # coordinator connection is reset in the middle of a commit.
            # A little latency (50±25 ms on the answers) during the storm stretches each
            # transaction over its coordinator round trips: otherwise the coordinator
            # connection idles between transactions and the first request after a window
            # opens is nearly always the next AddPartitionsToTxn, not the commit's steps.
            phases["resets"] = await _storm_phase(
                faults, at, plan.storm, rng, ["reset_up", "reset_down"], what="reset storm",
                toxicity=0.5, reset_timeout_ms=10, stretch_latency_ms=STORM_LATENCY_MS,
            )  # fmt: skip
            at = faults.now() + plan.gap_s
            # (c) blackhole: nothing passes either way, connections stay open (no error for
            # the clients, only silence), new connections too. It ends with every held
            # connection closed: the proxy is disabled (closing them all), the toxics removed,
            # the proxy enabled again. (Removing the two toxics one after the other instead can
            # leave a connection made between the two calls half-open, its answers swallowed.)
            await _sleep_until(t0, at)
            before = faults.connections()
            faults.mark("blackhole on")
            up = await faults.call(rig.proxy.add_toxic, "kafka", "timeout", "upstream", timeout=0)
            down = await faults.call(
                rig.proxy.add_toxic, "kafka", "timeout", "downstream", timeout=0
            )
            await _sleep_until(t0, at + plan.blackhole_s)
            await faults.call(rig.proxy.set_enabled, "kafka", False)
            await faults.call(rig.proxy.remove_toxic, "kafka", up)
            await faults.call(rig.proxy.remove_toxic, "kafka", down)
            await faults.call(rig.proxy.set_enabled, "kafka", True)
            faults.mark("blackhole off")
            phases["blackhole"] = {"from_s": at, "seconds": plan.blackhole_s}
            blackhole_end = faults.now()
            await load
            phases["blackhole"]["reconnects_after"] = faults.connections() - before
        finally:
            if not load.done():
                load.cancel()
            await asyncio.to_thread(rig.proxy.clear, "kafka")
        ended = await rig.wait_results(within=config.budget_s + 90)
        await rig.audit(audit, ended)
    audit.notes += rig.exit_notes()
    struck = _kafka_struck(logs, config.case, t0, phases)
    audit.details["faults"] = faults.events
    audit.details["phases"] = phases
    audit.details["gateway_saw"] = struck
    audit.details["load_rate_per_s"] = plan.rate
    lat, res, bh = phases["latency"], phases["resets"], phases["blackhole"]
    audit.notes.append(
        f"latency {LATENCY_MS}±{JITTER_MS} ms at {lat['from_s']:.0f}-"
        f"{lat['from_s'] + lat['seconds']:.0f} s; "
        f"{sum(res['windows'].values())} reset windows ({res['windows'].get('reset_up', 0)} on "
        f"requests, {res['windows'].get('reset_down', 0)} on answers, toxicity 0.5) at "
        f"{res['from_s']:.0f}-{res['until_s']:.0f} s: {res['reconnects']} reconnects, "
        f"{struck['txn_steps_in_storm']} transaction requests reset "
        f"(in the whole run: {_counts(struck['txn_steps_hit'])}); "
        f"blackhole {bh['seconds']:.0f} s at {bh['from_s']:.0f}-{blackhole_end:.0f} s "
        f"({bh['reconnects_after']} reconnects after it); load {plan.rate:.0f}/s"
    )
    audit.notes.append(
        f"gateway: {struck['failed_transactions']} transactions failed and redone "
        f"({_counts(struck['failed_by_error'])}), commits held back {struck['zombie_skips']} "
        f"times (membership in doubt), {struck['processing_failures']} processing "
        f"failures, {struck['rebalances']} partition assignments; "
        f"{audit.details.get('replayed', 0)} results replayed, "
        f"{audit.details.get('reconciled', 0)} reconciled by probe"
    )
    if res["reconnects"] == 0:
        audit.problems.append("the reset storm did not reset any connection")
    return audit


def _kafka_struck(
    logs: Path, prefix: str, t0: float, phases: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """What the replicas logged about the faults: transaction requests that a reset struck
    (aiokafka retries them inside the transaction; per request type, in all and during the
    storm), transactions that failed as a whole, flushes held back while the
    group's confirmation of the member was in doubt, processing failures, partition assignments."""
    lines = _log_lines(logs, prefix)
    wall0 = time.time() - (time.monotonic() - t0)
    storm = phases.get("resets", {})
    lo = wall0 + storm.get("from_s", 0.0)
    hi = wall0 + storm.get("until_s", 0.0) + 1.0
    steps: Counter[str] = Counter()
    in_storm = 0
    failed: Counter[str] = Counter()
    for ln in lines:
        msg = _message(ln)
        step = _TXN_STEP.search(msg)
        if step and msg.startswith("Could not send"):
            steps[step.group(1)] += 1
            t = _line_time(ln)
            in_storm += t is not None and lo <= t <= hi
        elif "records failed" in msg:
            failed[msg[msg.find("(") + 1 : msg.find(")")] if "(" in msg else "?"] += 1
    return {
        "txn_steps_hit": dict(steps),
        "txn_steps_in_storm": in_storm,
        "failed_transactions": sum(failed.values()),
        "failed_by_error": dict(failed),
        "zombie_skips": sum(1 for ln in lines if _message(ln).startswith("not committing")),
        "processing_failures": sum(1 for ln in lines if _message(ln).startswith("processing ")),
        "rebalances": sum(1 for ln in lines if _message(ln).startswith("assigned ")),
    }


_TXN_STEP = re.compile(r"transaction\.(\w+)Request")


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1])) or "-"


def _line_time(line: dict[str, Any]) -> float | None:
    """A log line's time (the replicas log local time, ``2026-12-06 04:41:05,684``)."""
    for key in ("timestamp", "time", "ts", "asctime"):
        value = line.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


# -- net-redis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisNetPlan:
    rate: float
    lead_s: float
    latency_s: float
    gap_s: float
    storm: Storm
    tail_s: float

    @property
    def load_s(self) -> float:
        return self.lead_s + self.latency_s + self.gap_s + self.storm.seconds + self.tail_s


REDIS_LATENCY_MS = 500


async def net_redis(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """500 ms on the Redis link, then a storm of resets and flaps."""
    plan = (
        RedisNetPlan(20, 4, 8, 4, Storm(6, (0.2, 0.5), (0.3, 0.8)), 5)
        if reduced
        else RedisNetPlan(30, 8, 20, 8, Storm(15, (0.2, 0.6), (0.4, 1.2)), 10)
    )
    audit = Audit(
        "8 net-redis",
        f"Redis link: {REDIS_LATENCY_MS} ms {plan.latency_s:.0f} s, then resets and flaps "
        f"{plan.storm.seconds:.0f} s",
    )
    # A vendor answering in 100 ms keeps commands between their claim and their stored
    # outcome at every moment (as redis-restart), which is where losing Redis matters.
    config = RigConfig("netr", budget_s=60.0, sim_latency_ms=100.0, proxied=frozenset({"redis"}))
    rig = CommandsRig(config, logs)
    count = int(plan.load_s * plan.rate)
    phases: dict[str, dict[str, Any]] = {}
    async with rig:
        assert rig.proxy is not None
        faults = FaultLog(rig.proxy, "redis", logs / "toxiproxy.log")
        load = asyncio.create_task(rig.send_commands(count, plan.rate))
        try:
            at = plan.lead_s
            # Latency on the answers: every Redis call (rate-limit reservation, idempotency
            # claim, lease heartbeat, stored outcome) takes 500 ms longer; when it ends, the
            # answers held in the proxy arrive at once.
            phases["latency"] = await _latency_phase(faults, at, plan.latency_s, REDIS_LATENCY_MS)
            at += plan.latency_s + plan.gap_s
            # The storm: windows cycling through resets of requests (not executed), resets
            # of answers (executed, answer lost: a claim or stored outcome the replica does
            # not know it made) and proxy flaps (every connection cut, new ones refused).
            phases["storm"] = await _storm_phase(
                faults, at, plan.storm, rng, ["reset_up", "reset_down", "flap"], what="storm",
                toxicity=1.0, reset_timeout_ms=0,
            )  # fmt: skip
            await load
        finally:
            if not load.done():
                load.cancel()
            await asyncio.to_thread(rig.proxy.set_enabled, "redis", True)
            await asyncio.to_thread(rig.proxy.clear, "redis")
        ended = await rig.wait_results(within=config.budget_s + 60)
        await rig.audit(audit, ended)
    audit.notes += rig.exit_notes()
    lines = _log_lines(logs, config.case)
    processing = [ln for ln in lines if _message(ln).startswith("processing ")]
    by_error: Counter[str] = Counter()
    for ln in processing:
        msg = _message(ln)
        by_error[msg[msg.find("(") + 1 : msg.find(")")] if "(" in msg else "?"] += 1
    audit.details["faults"] = faults.events
    audit.details["phases"] = phases
    audit.details["processing_failures"] = dict(by_error)
    audit.details["load_rate_per_s"] = plan.rate
    lat, st = phases["latency"], phases["storm"]
    w = st["windows"]
    audit.notes.append(
        f"latency {REDIS_LATENCY_MS} ms at {lat['from_s']:.0f}-"
        f"{lat['from_s'] + lat['seconds']:.0f} s; storm at {st['from_s']:.0f}-"
        f"{st['until_s']:.0f} s: {w.get('reset_up', 0)} request resets, "
        f"{w.get('reset_down', 0)} answer resets, {w.get('flap', 0)} flaps, "
        f"{st['reconnects']} reconnects; gateway: {len(processing)} processing "
        f"failures ({dict(by_error.most_common(3))}), "
        f"{audit.details.get('replayed', 0)} results replayed, "
        f"{audit.details.get('reconciled', 0)} reconciled by probe; load {plan.rate:.0f}/s"
    )
    if st["reconnects"] == 0:
        audit.problems.append("the storm did not cut any Redis connection")
    return audit
