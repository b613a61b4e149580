"""Cases 1-4: the commands role under replica kills, a broker restart, a Redis restart, and a
vendor outage followed by a slow vendor. Each sends paced RoomCreate load (own room_id per
command) to two replicas on Redis and audits the outcome."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.audit import Audit
from chaos.rig import CommandsRig, RigConfig
from chaos.services import (
    kafka_ready,
    kafka_restart_refusal,
    redis_ready,
    redis_restart_refusal,
    run_script,
)

__all__ = ["kafka_restart", "redis_restart", "replica_kill", "vendor_outage"]


@dataclass(frozen=True)
class KillPlan:
    commands: int
    kills: int
    min_gap_s: float
    max_gap_s: float


async def replica_kill(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """SIGKILL a random replica at random moments during the load, restarting it each time."""
    plan = KillPlan(1000, 3, 8, 12) if reduced else KillPlan(10_000, 20, 10, 18)
    audit = Audit("1 replica-kill", f"SIGKILL x{plan.kills} during {plan.commands:,} commands")
    # Kill moments: after a 5 s lead-in, gaps drawn between min and max: a kill never lands
    # before the previous restart had time to start (the group still rebalancing is fine).
    offsets, t = [], 5.0
    for _ in range(plan.kills):
        offsets.append(t)
        t += rng.uniform(plan.min_gap_s, plan.max_gap_s)
    load_s = offsets[-1] + 8.0
    rate = plan.commands / load_s
    config = RigConfig("kill", budget_s=60.0)
    rig = CommandsRig(config, logs)
    kills: list[dict[str, object]] = []
    async with rig:
        started = time.monotonic()
        load = asyncio.create_task(rig.send_commands(plan.commands, rate))
        try:
            for offset in offsets:
                await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
                replica = rng.choice(rig.replicas)
                assert rig.supervisor is not None
                with rig.supervisor.paused(replica):
                    results_before = sum(1 for _ in rig.follower.records[rig.topics.results])  # type: ignore[union-attr]
                    replica.kill()
                    replica.start()
                kills.append(
                    {
                        "at_s": round(time.monotonic() - started, 1),
                        "replica": replica.name,
                        "results_so_far": results_before,
                    }
                )
            await load
        finally:
            if not load.done():
                load.cancel()
        ended = await rig.wait_results(within=config.budget_s + 90)
        await rig.audit(audit, ended)
    audit.notes += rig.exit_notes()
    audit.details["kills"] = kills
    audit.details["load_rate_per_s"] = round(rate, 1)
    total_kills = sum(r.kills for r in rig.replicas)
    if total_kills != plan.kills:
        audit.problems.append(f"{total_kills} kills done, {plan.kills} planned")
    audit.notes.append(
        f"{plan.kills} SIGKILLs at {[k['at_s'] for k in kills]} s; load {rate:.0f}/s; "
        f"{audit.details.get('reconciled', 0)} results reconciled by probe, "
        f"{audit.details.get('replayed', 0)} replayed"
    )
    return audit


@dataclass(frozen=True)
class RestartPlan:
    commands: int
    rate: float
    restart_at_s: float
    down_s: float  # extra time the service stays down between stop and start


async def kafka_restart(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """scripts/kafka.sh stop, then start, in the middle of the load."""
    audit = Audit("2 kafka-restart", "broker stopped and started under load")
    refusal = kafka_restart_refusal()
    if refusal:
        audit.refused = refusal
        return audit
    plan = RestartPlan(600, 30, 6, 2) if reduced else RestartPlan(3000, 40, 25, 5)
    config = RigConfig("kafka", budget_s=90.0)
    rig = CommandsRig(config, logs)
    timings: dict[str, float] = {}
    try:
        wait_s = config.budget_s + 90
        await _restart_under_load(rig, audit, plan, "scripts/kafka.sh", wait_s, timings)
    finally:
        await _ensure_kafka()
    audit.notes += rig.exit_notes()
    audit.details["restart"] = timings
    audit.notes.append(
        f"broker down {_down_s(timings, plan):.1f} s (stop {timings.get('stop_s', 0):.1f} s, "
        f"start until ready {timings.get('start_s', 0):.1f} s); load {plan.rate:.0f}/s"
    )
    return audit


async def _restart_under_load(
    rig: CommandsRig,
    audit: Audit,
    plan: RestartPlan,
    script: str,
    wait_s: float,
    timings: dict[str, float],
) -> None:
    """Load, ``script stop`` and ``start`` in its middle, then the results and the audit."""
    async with rig:
        load = asyncio.create_task(rig.send_commands(plan.commands, plan.rate))
        await asyncio.sleep(plan.restart_at_s)
        timings["stop_s"] = await asyncio.to_thread(run_script, script, "stop")
        await asyncio.sleep(plan.down_s)
        timings["start_s"] = await asyncio.to_thread(run_script, script, "start")
        await load
        ended = await rig.wait_results(within=wait_s)
        await rig.audit(audit, ended)


def _down_s(timings: dict[str, float], plan: RestartPlan) -> float:
    return timings.get("stop_s", 0) + plan.down_s + timings.get("start_s", 0)


async def _ensure_kafka() -> None:
    if not await kafka_ready(5):
        await asyncio.to_thread(run_script, "scripts/kafka.sh", "start")


async def redis_restart(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """scripts/redis.sh stop, then start, in the middle of the load."""
    audit = Audit("3 redis-restart", "Redis stopped and started under load")
    refusal = redis_restart_refusal()
    if refusal:
        audit.refused = refusal
        return audit
    plan = RestartPlan(600, 30, 6, 1) if reduced else RestartPlan(3000, 40, 25, 2)
    # A vendor answering in 100 ms keeps a few commands between their vendor call and their
    # stored outcome at any moment, which is where losing Redis matters.
    config = RigConfig("redis", budget_s=60.0, sim_latency_ms=100.0)
    rig = CommandsRig(config, logs)
    timings: dict[str, float] = {}
    try:
        wait_s = config.budget_s + 60
        await _restart_under_load(rig, audit, plan, "scripts/redis.sh", wait_s, timings)
    finally:
        if not redis_ready():
            await asyncio.to_thread(run_script, "scripts/redis.sh", "start")
    audit.notes += rig.exit_notes()
    audit.details["restart"] = timings
    audit.notes.append(
        f"Redis down {_down_s(timings, plan):.1f} s "
        f"(no persistence: idempotency claims and rate-limit state are gone after the start); "
        f"load {plan.rate:.0f}/s"
    )
    return audit


@dataclass(frozen=True)
class OutagePlan:
    lead_s: float
    outage_s: float
    recover_s: float
    slow_s: float
    tail_s: float
    rate: float

    @property
    def total_s(self) -> float:
        return self.lead_s + self.outage_s + self.recover_s + self.slow_s + self.tail_s


SLOW_MS = 2000.0


async def vendor_outage(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    """A vendor outage (every request 503), recovery, then a vendor answering in 2 s."""
    plan = OutagePlan(4, 10, 5, 10, 4, 20) if reduced else OutagePlan(10, 60, 15, 30, 10, 25)
    audit = Audit(
        "4 vendor-outage",
        f"vendor down {plan.outage_s:.0f} s, then answering in {SLOW_MS / 1000:.0f} s "
        f"for {plan.slow_s:.0f} s",
    )
    # The budget covers the outage plus the backlog it leaves (drained at the rate limit)
    # plus a slow answer; retries back off at most 2 s, so recovery is noticed within 2 s.
    config = RigConfig("outage", budget_s=plan.outage_s + 60.0)
    count = int(plan.total_s * plan.rate)
    rig = CommandsRig(config, logs)
    async with rig:
        assert rig.sim is not None
        load = asyncio.create_task(rig.send_commands(count, plan.rate))
        await asyncio.sleep(plan.lead_s)
        await rig.sim.outage(plan.outage_s)
        await asyncio.sleep(plan.outage_s + plan.recover_s)
        await rig.sim.patch_faults({"latency": {"fixed_ms": SLOW_MS}})
        await asyncio.sleep(plan.slow_s)
        await rig.sim.patch_faults({"latency": {"fixed_ms": config.sim_latency_ms}})
        await load
        ended = await rig.wait_results(within=config.budget_s + 60)
        await rig.audit(audit, ended)
        log = await rig.sim.requests()
    audit.notes += rig.exit_notes()
    outage_answers = sum(1 for e in log if e.get("fault") == "outage")
    slow_answers = sum(1 for e in log if (e.get("latency_ms") or 0) >= SLOW_MS - 1)
    audit.details.update(outage_answers=outage_answers, slow_answers=slow_answers)
    if outage_answers == 0 or slow_answers == 0:
        audit.problems.append("the outage or the slow phase did not reach any request")
    audit.notes.append(
        f"{outage_answers} requests answered 503 during the outage, {slow_answers} answered "
        f"after {SLOW_MS / 1000:.0f} s; retry budget (command deadline) {config.budget_s:.0f} s, "
        f"backoff windows up to {config.max_wait_s:.0f} s; max attempts of one command "
        f"{audit.details.get('max_attempts')}"
    )
    return audit
