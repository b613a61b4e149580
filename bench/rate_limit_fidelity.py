"""Scenario 3: rate-limit fidelity: bursts of commands against a vendor limit of 200/s.

The simulator enforces the vendor-side limit, 200 requests/s with a burst of 20 (an exact
GCRA, ``gateway.simulator.ratelimit``), and counts every request over it as a violation; the
gateway is configured with the same limit (``RATE_PER_S=200``, ``BURST=20``, its default
2 % safety margin and one slot of burst headroom). The harness puts bursts of RoomUpdate
commands on the topic at once (``--bursts`` of ``--burst-size``, ``--every`` seconds apart),
more than the limit lets through in the time between them, so the gateway's limiter is
saturated for most of each interval and idle for a moment before the next burst.

Tolerance 50 ms: the simulator stamps a request's arrival when its own event loop gets to
it. On two cores shared with Kafka, the gateway and the harness, a descheduled simulator
stamps several requests together although the gateway sent them apart, which looks like a
burst that never happened. ``tolerance_ms`` widens the vendor's GCRA by that much; the
report also gives the count with no tolerance at all (the same GCRA recomputed from the
request log) and the busiest 1-second window, which needs no tolerance.

Two configurations, each in its own gateway process (``--role commands``):

- ``default share``: the commands lane gets 80 % of the budget (``POLLER_SHARE`` 0.2, kept
  for a poller in another process, which may not be borrowed without Redis): at most
  200 x 0.98 x 0.8 = 156.8/s.
- ``share 0.01``: the commands role owns (almost) the whole account: 200 x 0.98 x 0.99 = 194/s.

A third configuration checks a per-endpoint override (a sub-limit within the account's
budget): the simulator also limits ``/room/get_statistic`` to 5/s (burst 5, same tolerance),
the gateway runs with ``GATEWAY_VENDOR__RATE_LIMIT__ENDPOINTS='{"/room/get_statistic": 5}'``,
and the harness puts one burst of RoomStatisticGet commands (``--stats``, each on a key of its
own) interleaved with ``--burst-size`` RoomUpdate commands on the topic at once. It reports
the endpoint's violations (must be 0), its achieved rate past its burst (target 5 x 0.98 =
4.9/s) and the RoomUpdates' rate, which must stay the account's (not slowed to 5/s).

Utilisation when saturated: the vendor requests of each burst, counted from 0.5 s after its
first request (past the initial burst allowance) to its last, per second, over 200/s.

    .venv/bin/python bench/rate_limit_fidelity.py            # 4 bursts of 400, 4 s apart; 30 stats
    .venv/bin/python bench/rate_limit_fidelity.py --quick    # 2 bursts of 200, 2 s apart; 15 stats

Prints one JSON line and writes ``bench/results/rate_limit_fidelity.{json,png}``; exits
non-zero if the vendor saw a violation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (
    GATEWAY_SUT,
    busiest_window,
    clear_requests,
    produce_commands,
    request_log,
    room_updates,
    running_sut,
    scenario_parser,
    seed_rooms,
    simulator,
)
from plotting import emit, figure, save

from gateway.ratelimit import endpoint_burst
from gateway.simulator.ratelimit import GcraLimiter

RATE = 200.0
BURST = 20
# The gateway's account limit in every configuration: the same as the vendor's.
VENDOR_LIMIT_ENV = {
    "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "true",
    "GATEWAY_VENDOR__RATE_LIMIT__RATE_PER_S": str(RATE),
    "GATEWAY_VENDOR__RATE_LIMIT__BURST": str(BURST),
}
TOLERANCE_MS = 50.0
CONFIGS = {"default share (0.2)": "0.2", "share 0.01": "0.01"}
# The per-endpoint override: the vendor limits this path to 5/s on its own as well.
ENDPOINT = "/room/get_statistic"
ENDPOINT_RATE = 5.0
ENDPOINT_VENDOR_BURST = 5


def strict_violations(monos: list[float], rate: float, burst: int) -> int:
    """The vendor's GCRA over the logged arrivals with no tolerance: requests over the limit."""
    limiter = GcraLimiter(rate, burst, 0)
    return sum(0 if limiter.conforms(round(t * 1e9)) else 1 for t in sorted(monos))


async def run_config(
    label: str, share: str, args: argparse.Namespace, vendor_url: str
) -> dict[str, Any]:
    bursts: list[tuple[float, list[str]]] = []
    async with running_sut(
        GATEWAY_SUT,
        args,
        vendor_url,
        **VENDOR_LIMIT_ENV,
        GATEWAY_VENDOR__RATE_LIMIT__POLLER_SHARE=share,
    ) as run:
        await asyncio.sleep(1.0)  # the limiter's burst refills after the warm-up
        await clear_requests(vendor_url)
        async with httpx.AsyncClient(base_url=vendor_url) as sim:
            (await sim.delete("/_sim/violations")).raise_for_status()
        await run.collector.start()
        t0 = time.monotonic()
        for k in range(args.bursts):
            await asyncio.sleep(max(0.0, t0 + k * args.every - time.monotonic()))
            commands = room_updates(args.burst_size, args.keys)
            sent = await produce_commands(args.bootstrap, run.topics.commands, commands)
            bursts.append((min(sent.values()), list(sent)))
        every_id = [i for _, ids in bursts for i in ids]
        missing = await run.collector.wait_for(every_id, within=args.drain)
        async with httpx.AsyncClient(base_url=vendor_url) as sim:
            violations = (await sim.get("/_sim/violations")).json()
    log = await request_log(vendor_url)
    by_cid = {e["params"].get("topic"): e for e in log if e["params"].get("topic")}
    monos = [e["mono"] for e in log]
    saturated: list[dict[str, Any]] = []
    for sent_at, ids in bursts:
        arrivals = sorted(by_cid[i]["mono"] for i in ids if i in by_cid)
        if len(arrivals) < 2:
            continue
        start, end = arrivals[0] + 0.5, arrivals[-1]
        inside = sum(1 for t in arrivals if start <= t <= end)
        steady = inside / (end - start) if end > start else float("nan")
        saturated.append(
            {
                "sent_at": round(sent_at, 3),
                "requests": len(arrivals),
                "served_in_s": round(arrivals[-1] - arrivals[0], 3),
                "steady_per_s": round(steady, 1),
            }
        )
    total_inside = sum(b["steady_per_s"] * 1 for b in saturated) / max(1, len(saturated))
    seen = run.collector.seen
    succeeded = sum(1 for i in every_id if i in seen and seen[i][1]["status"] == "succeeded")
    timeline = [
        {"ts": b["ts"], "arrivals": b["arrivals"], "over_limit": b["over_limit"]}
        for b in violations["timeline"]
    ]
    return {
        "config": label,
        "poller_share": float(share),
        "lane_rate_per_s": round(RATE * 0.98 * (1 - float(share)), 1),
        "commands": len(every_id),
        "succeeded": succeeded,
        "missing": missing,
        "vendor_requests": len(log),
        "violations": violations["count"],
        "checked": violations["checked"],
        "violations_without_tolerance": strict_violations(monos, RATE, BURST),
        "busiest_1s": busiest_window(monos, 1.0),
        "busiest_1s_allowed": int(BURST + RATE),
        "steady_per_s": round(total_inside, 1),
        "utilisation": round(total_inside / RATE, 3),
        "bursts": saturated,
        "burst_times": [round(t, 3) for t, _ in bursts],
        "timeline": timeline,
    }


def room_statistic_gets(n: int) -> list[tuple[bytes, dict[str, Any]]]:
    """N RoomStatisticGet commands, each on a Kafka key of its own: a command waiting for the
    endpoint's slot then holds back no RoomUpdate of the same room (commands of one key run in
    order)."""
    now = int(time.time())
    commands = []
    for _ in range(n):
        cid = str(uuid.uuid4())
        payload = {"start_time": now - 3600, "end_time": now}
        commands.append(
            (f"stat-{cid}".encode(), {"id": cid, "type": "RoomStatisticGet", "payload": payload})
        )
    return commands


def interleave(
    a: list[tuple[bytes, dict[str, Any]]], b: list[tuple[bytes, dict[str, Any]]]
) -> list[tuple[bytes, dict[str, Any]]]:
    """``b`` spread evenly through ``a``."""
    step = max(1, len(a) // max(1, len(b)))
    out, rest = [], list(b)
    for i, item in enumerate(a):
        if rest and i % step == 0:
            out.append(rest.pop(0))
        out.append(item)
    return out + rest


def steady_rate(monos: list[float], skip: int) -> float:
    """Arrivals per second past the first ``skip`` (a burst allowance): (n - skip) requests
    after the ``skip``-th, over the time from it to the last."""
    ordered = sorted(monos)
    if len(ordered) <= skip or skip < 1:
        return float("nan")
    span = ordered[-1] - ordered[skip - 1]
    return (len(ordered) - skip) / span if span > 0 else float("nan")


async def run_endpoint_config(args: argparse.Namespace, vendor_url: str) -> dict[str, Any]:
    """One burst of RoomStatisticGet mixed with RoomUpdate, the endpoint limited to 5/s."""
    async with running_sut(
        GATEWAY_SUT,
        args,
        vendor_url,
        **VENDOR_LIMIT_ENV,
        GATEWAY_VENDOR__RATE_LIMIT__ENDPOINTS=json.dumps({ENDPOINT: ENDPOINT_RATE}),
    ) as run:
        await asyncio.sleep(1.0)  # the limiters' bursts refill after the warm-up
        await clear_requests(vendor_url)
        async with httpx.AsyncClient(base_url=vendor_url) as sim:
            (await sim.delete("/_sim/violations")).raise_for_status()
        await run.collector.start()
        stats = room_statistic_gets(args.stats)
        updates = room_updates(args.burst_size, args.keys)
        sent = await produce_commands(
            args.bootstrap, run.topics.commands, interleave(updates, stats)
        )
        missing = await run.collector.wait_for(list(sent), within=args.drain)
        async with httpx.AsyncClient(base_url=vendor_url) as sim:
            violations = (await sim.get("/_sim/violations")).json()
    log = await request_log(vendor_url)
    stat_monos = [e["mono"] for e in log if e["path"] == ENDPOINT]
    update_monos = [e["mono"] for e in log if e["path"] == "/room/update"]
    # The gateway's burst for the endpoint (gateway.app.accounts): ceil(5) - 1 headroom.
    gateway_burst = endpoint_burst(ENDPOINT_RATE, BURST - 1, 1)
    endpoint_per_s = steady_rate(stat_monos, gateway_burst)
    updates_span = max(update_monos) - min(update_monos) if len(update_monos) > 1 else 0.0
    seen = run.collector.seen
    succeeded = sum(1 for i in sent if i in seen and seen[i][1]["status"] == "succeeded")
    return {
        "config": f"endpoint {ENDPOINT} {ENDPOINT_RATE:g}/s",
        "endpoint": ENDPOINT,
        "endpoint_vendor_limit": {"rate_per_s": ENDPOINT_RATE, "burst": ENDPOINT_VENDOR_BURST},
        "endpoint_gateway_limit": {
            "rate_per_s": round(ENDPOINT_RATE * 0.98, 2),
            "burst": gateway_burst,
        },
        "commands": len(sent),
        "succeeded": succeeded,
        "missing": missing,
        "endpoint_requests": len(stat_monos),
        "endpoint_violations": violations["per_path"][ENDPOINT]["count"],
        "endpoint_checked": violations["per_path"][ENDPOINT]["checked"],
        "endpoint_violations_without_tolerance": strict_violations(
            stat_monos, ENDPOINT_RATE, ENDPOINT_VENDOR_BURST
        ),
        "endpoint_per_s": round(endpoint_per_s, 2),
        "endpoint_target_per_s": round(ENDPOINT_RATE * 0.98, 2),
        "other_requests": len(update_monos),
        "other_served_in_s": round(updates_span, 3),
        "other_per_s": round(len(update_monos) / updates_span, 1) if updates_span else None,
        "account_violations": violations["count"],
        "violations": violations["count"] + violations["per_path"][ENDPOINT]["count"],
    }


def plot(report: dict[str, Any]) -> None:
    runs = report["runs"]
    fig, axes = figure(1, len(runs), sharey=True)
    axes = list(axes) if len(runs) > 1 else [axes]
    per_bucket = RATE / 10
    for ax, run in zip(axes, runs, strict=True):
        tl = run["timeline"]
        if not tl:
            continue
        origin = min(run["burst_times"] + [tl[0]["ts"]])
        xs = [b["ts"] - origin for b in tl]
        ax.bar(xs, [b["arrivals"] for b in tl], width=0.1, align="edge", color="#1f77b4")
        over = [(x, b["over_limit"]) for x, b in zip(xs, tl, strict=True) if b["over_limit"]]
        if over:
            ax.bar([x for x, _ in over], [n for _, n in over], width=0.1, align="edge", color="red")
        ax.axhline(
            per_bucket, color="black", lw=1, label=f"limit {RATE:g}/s = {per_bucket:g}/100 ms"
        )
        ax.axhline(
            run["lane_rate_per_s"] / 10,
            color="#ff7f0e",
            lw=1,
            ls="--",
            label=f"commands lane {run['lane_rate_per_s']:g}/s",
        )
        ax.axhline(
            BURST + per_bucket,
            color="black",
            lw=0.8,
            ls=":",
            label=f"burst {BURST} + 100 ms of rate (most any 100 ms may hold)",
        )
        for t in run["burst_times"]:
            ax.axvline(t - origin, color="#999999", lw=0.8, ls=":")
        ax.set_title(
            f"{run['config']}: {run['violations']} violations, utilisation"
            f" {run['utilisation']:.0%}",
            fontsize=9,
        )
        ax.set_ylabel("requests / 100 ms", fontsize=8)
        ax.set_ylim(0, (BURST + per_bucket) * 1.7)  # room for the legend above the bars
        ax.legend(fontsize=7, loc="upper right", ncols=3)
    axes[-1].set_xlabel("seconds since the first burst (dotted: a burst of commands produced)")
    save(fig, "rate_limit_fidelity")


async def main() -> None:
    parser = scenario_parser(__doc__)
    parser.add_argument("--bursts", type=int, default=None, help="default 4; quick 2")
    parser.add_argument("--burst-size", type=int, default=None, help="default 400; quick 200")
    parser.add_argument("--every", type=float, default=None, help="s between bursts (4; quick 2)")
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument(
        "--stats", type=int, default=None, help="RoomStatisticGet commands (30; quick 15)"
    )
    args = parser.parse_args()
    args.stats = args.stats or (15 if args.quick else 30)
    args.bursts = args.bursts or (2 if args.quick else 4)
    args.burst_size = args.burst_size or (200 if args.quick else 400)
    args.every = args.every or (2.0 if args.quick else 4.0)
    limit = {
        "enabled": True,
        "rate_per_s": RATE,
        "burst": BURST,
        "tolerance_ms": TOLERANCE_MS,
        "per_path": {ENDPOINT: {"rate_per_s": ENDPOINT_RATE, "burst": ENDPOINT_VENDOR_BURST}},
    }
    runs = []
    with simulator(latency_ms=args.latency_ms, rate_limit=limit) as vendor_url:
        await seed_rooms(vendor_url, args.keys)
        for label, share in CONFIGS.items():
            runs.append(await run_config(label, share, args, vendor_url))
            print(
                f"rate_limit_fidelity: {label}: violations {runs[-1]['violations']},"
                f" utilisation {runs[-1]['utilisation']}",
                file=sys.stderr,
                flush=True,
            )
        override = await run_endpoint_config(args, vendor_url)
        print(
            f"rate_limit_fidelity: {override['config']}: endpoint violations"
            f" {override['endpoint_violations']}, endpoint {override['endpoint_per_s']}/s"
            f" (target {override['endpoint_target_per_s']}), others {override['other_per_s']}/s",
            file=sys.stderr,
            flush=True,
        )
    report = {
        "scenario": "rate_limit_fidelity",
        "vendor_limit": {"rate_per_s": RATE, "burst": BURST, "tolerance_ms": TOLERANCE_MS},
        "gateway_limit": {"rate_per_s": RATE, "burst": BURST, "safety_margin": 0.02},
        "bursts": args.bursts,
        "burst_size": args.burst_size,
        "every_s": args.every,
        "latency_ms": args.latency_ms,
        "violations": sum(r["violations"] for r in runs) + override["violations"],
        "runs": runs,
        "endpoint_override": override,
    }
    plot(report)
    emit("rate_limit_fidelity", report)
    if report["violations"]:
        sys.exit(f"rate_limit_fidelity: {report['violations']} violations (must be 0)")


if __name__ == "__main__":
    asyncio.run(main())
