"""Scenario 2: gateway-added latency at fixed arrival rates (100, 500, 1,000 commands/s).

The harness produces RoomUpdate commands at a fixed rate (command i at t0 + i/rate) for a
bounded time per rate, against the simulator at 20 ms, in-flight 64, no rate limit, and
reads the results as they come (read_committed). For each rate and each system under test
(the gateway and the minimal aiokafka -> httpx -> aiokafka loop, plus any ``--sut``):
gateway-added latency p50/p99 (result seen - command sent - the vendor's own time), the
rate the SUT actually delivered, and its CPU. A rate above what a SUT can sustain shows as a
delivered rate below the offered one and a p99 that grows with the run's length (a queue):
the figure then says how long the backlog got, not a steady-state latency.

Each SUT runs in its own process, one after the other, all rates in one process (a pause and
an empty backlog between rates).

    .venv/bin/python bench/latency_under_load.py                 # 10 s per rate
    .venv/bin/python bench/latency_under_load.py --quick         # 3 s per rate
    .venv/bin/python bench/latency_under_load.py --rates 200 --rates 400 --seconds 20

Prints one JSON line and writes ``bench/results/latency_under_load.{json,png}``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    _proc_usage,
    clear_requests,
    percentile,
    produce_at_rate,
    room_updates,
    running_sut,
    scenario_parser,
    seed_rooms,
    simulator,
    sut_pid,
    systems_under_test,
    vendor_times,
)
from plotting import color, emit, figure, save


def _stats(
    rate: float,
    sent: dict[str, float],
    seen: dict[str, tuple[float, dict[str, Any]]],
    vendor_ms: dict[str, float],
    cpu_s: float,
    missing: int,
) -> dict[str, Any]:
    ids = [i for i in sent if i in seen]
    added = [max(0.0, (seen[i][0] - sent[i]) * 1000 - vendor_ms.get(i, 0.0)) for i in ids]
    first_sent, last_sent = min(sent.values()), max(sent.values())
    last_result = max((seen[i][0] for i in ids), default=first_sent)
    ok = sum(1 for i in ids if seen[i][1].get("status") == "succeeded")
    delivered = len(ids) / (last_result - first_sent) if last_result > first_sent else 0.0
    return {
        "offered_per_s": rate,
        "commands": len(sent),
        "results": len(ids),
        "succeeded": ok,
        "missing": missing,
        "produce_s": round(last_sent - first_sent, 2),
        "delivered_per_s": round(delivered, 1),
        "kept_up": delivered >= 0.95 * rate and missing == 0,
        "added_p50_ms": round(percentile(added, 50), 2),
        "added_p99_ms": round(percentile(added, 99), 2),
        "added_max_ms": round(max(added, default=float("nan")), 2),
        "vendor_p50_ms": round(percentile([vendor_ms.get(i, 0.0) for i in ids], 50), 2),
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_command": round(cpu_s * 1000 / max(1, len(ids)), 3),
    }


async def run_sut(
    name: str, command: str, args: argparse.Namespace, vendor_url: str
) -> dict[str, Any]:
    await clear_requests(vendor_url)
    per_rate: list[tuple[float, dict[str, float], float, int]] = []
    rss = 0
    async with running_sut(command, args, vendor_url) as run:
        pid = sut_pid(run.proc)
        await run.collector.start()
        for rate in args.rates:
            commands = room_updates(round(rate * args.seconds), args.keys)
            cpu0, _ = _proc_usage(pid)
            sent = await produce_at_rate(args.bootstrap, run.topics.commands, commands, rate)
            missing = await run.collector.wait_for(list(sent), within=args.drain)
            cpu1, rss = _proc_usage(pid)
            per_rate.append((rate, sent, cpu1 - cpu0, missing))
            print(
                f"latency_under_load: {name} {rate:g}/s: {len(sent) - missing}/{len(sent)} results",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(args.pause)
    vendor_ms = await vendor_times(vendor_url)
    rates = [
        _stats(rate, sent, run.collector.seen, vendor_ms, cpu, missing)
        for rate, sent, cpu, missing in per_rate
    ]
    return {"sut": name, "rss_mb": round(rss / 2**20, 1), "rates": rates}


def plot(report: dict[str, Any]) -> None:
    fig, (left, right) = figure(2)
    for run in report["runs"]:
        xs = [r["offered_per_s"] for r in run["rates"]]
        c = color(run["sut"])
        left.plot(
            xs, [r["added_p50_ms"] for r in run["rates"]], "o-", color=c, label=f"{run['sut']} p50"
        )
        left.plot(
            xs, [r["added_p99_ms"] for r in run["rates"]], "s--", color=c, label=f"{run['sut']} p99"
        )
        right.plot(
            xs, [r["delivered_per_s"] for r in run["rates"]], "o-", color=c, label=run["sut"]
        )
    left.set_yscale("log")
    left.set_xlabel("offered commands/s")
    left.set_ylabel("gateway-added latency, ms (log)")
    left.set_title("added latency per arrival rate", fontsize=10)
    left.legend(fontsize=7)
    top = max(report["rates"])
    right.plot([0, top], [0, top], ":", color="#999999", label="offered")
    right.set_xlabel("offered commands/s")
    right.set_ylabel("delivered commands/s")
    right.set_title("delivered vs offered", fontsize=10)
    right.legend(fontsize=7)
    fig.suptitle(
        f"fixed arrival rates, {report['seconds']:g} s each, vendor {report['latency_ms']:g} ms,"
        f" in-flight {report['in_flight']}, {report['keys']:,} keys",
        fontsize=10,
    )
    save(fig, "latency_under_load")


async def main() -> None:
    parser = scenario_parser(__doc__, quick_help="smoke run: 3 s per rate", suts=True)
    parser.add_argument("--rates", type=float, action="append", help="default 100, 500, 1000")
    parser.add_argument(
        "--seconds", type=float, default=None, help="per rate (default 10; quick 3)"
    )
    parser.add_argument("--drain", type=float, default=120.0, help="max wait for a rate's results")
    parser.add_argument("--pause", type=float, default=2.0, help="idle seconds between rates")
    args = parser.parse_args()
    args.rates = args.rates or [100.0, 500.0, 1000.0]
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    started = time.perf_counter()
    with simulator(latency_ms=args.latency_ms) as vendor_url:
        await seed_rooms(vendor_url, args.keys)
        runs = [
            await run_sut(name, command, args, vendor_url)
            for name, command in systems_under_test(args)
        ]
    by_name = {run["sut"]: {r["offered_per_s"]: r for r in run["rates"]} for run in runs}
    ratios = {}
    for rate in args.rates:
        gw, base = by_name["gateway"][rate], by_name["baseline"][rate]
        if base["added_p50_ms"] and base["added_p99_ms"]:
            ratios[f"{rate:g}"] = {
                "p50": round(gw["added_p50_ms"] / base["added_p50_ms"], 3),
                "p99": round(gw["added_p99_ms"] / base["added_p99_ms"], 3),
            }
    report = {
        "scenario": "latency_under_load",
        "rates": args.rates,
        "seconds": args.seconds,
        "keys": args.keys,
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "partitions": args.partitions,
        "runs": runs,
        "gateway_vs_baseline_added_latency": ratios,
        "total_s": round(time.perf_counter() - started, 1),
    }
    plot(report)
    emit("latency_under_load", report)


if __name__ == "__main__":
    asyncio.run(main())
