"""Scenario 1: throughput and gateway-added latency of the commands role, with its baselines.

N RoomUpdate commands over K rooms (keys) against the simulator at a fixed latency, no rate
limit, in-flight 64 (the issue's sizes: 20,000 commands over 1,000 keys, 20 ms). All N are
put on the topic at once; each system under test runs in its own process, one after the
other, against the same simulator: the minimal aiokafka -> httpx -> aiokafka loop
(``baseline``, bench/baseline_loop.py), the same loop on aiohttp, the gateway's vendor HTTP
client (``baseline_aiohttp``, bench/baseline_loop_aiohttp.py), the gateway, and any ``--sut``
(e.g. Kafka Connect, bench/connect/). Reports commands/s, gateway-added latency p50/p95/p99
(result seen by a read_committed consumer - command sent - the vendor's own time for it; with
everything queued at once this is mostly time spent waiting in the backlog), CPU ms per
command (the SUT's whole process tree) and the ratios gateway / each other SUT, from this run.

    .venv/bin/python bench/commands_throughput.py                     # 20,000 over 1,000 keys
    .venv/bin/python bench/commands_throughput.py --quick             # 2,000 over 500 keys
    .venv/bin/python bench/commands_throughput.py --sut "my-peer --flag"   # any other SUT
    .venv/bin/python bench/commands_throughput.py --sut bench/connect/run_sut.sh --sut-name connect

Prints one JSON line and writes ``bench/results/commands_throughput.{json,png}``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    clear_requests,
    produce_commands,
    room_updates,
    running_sut,
    scenario_parser,
    seed_rooms,
    simulator,
    summarise,
    sut_usage,
    systems_under_test,
    vendor_times,
)
from plotting import color, emit, figure, save


async def run_one(
    name: str, command: str, args: argparse.Namespace, vendor_url: str
) -> dict[str, Any]:
    await clear_requests(vendor_url)
    async with running_sut(command, args, vendor_url) as run:
        cpu0, _ = sut_usage(run.proc)
        commands = room_updates(args.n, args.keys)
        await run.collector.start()
        sent = await produce_commands(args.bootstrap, run.topics.commands, commands)
        missing = await run.collector.wait_for(list(sent), within=args.timeout)
        cpu1, rss = sut_usage(run.proc)
    got = run.collector.seen
    stats = summarise(name, sent, got, await vendor_times(vendor_url), cpu1 - cpu0, rss)
    result = stats.as_dict()
    result["missing"] = missing
    result["cpu_ms_per_command"] = round(stats.cpu_s * 1000 / max(1, stats.results), 3)
    print(f"commands_throughput: {name}: {result}", file=sys.stderr, flush=True)
    return result


def plot(report: dict[str, Any]) -> None:
    runs = report["runs"]
    names = [r["sut"] for r in runs]
    fig, (left, right) = figure(2)
    bars = left.bar(names, [r["throughput"] for r in runs], color=[color(n) for n in names])
    for bar, r in zip(bars, runs, strict=True):
        left.annotate(
            f"{r['throughput']:,.0f}/s",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    left.tick_params(axis="x", labelsize=7)
    left.set_ylabel("commands/s")
    left.set_ylim(0, max(r["throughput"] for r in runs) * 1.2)
    left.set_title("throughput", fontsize=10)
    width = 0.25
    for j, q in enumerate(("p50", "p95", "p99")):
        xs = [k + (j - 1) * width for k in range(len(runs))]
        right.bar(
            xs,
            [r[f"added_{q}_ms"] / 1000 for r in runs],
            width,
            label=q,
            color=["#9ecae1", "#4292c6", "#08519c"][j],
        )
    right.set_xticks(range(len(runs)), names, fontsize=7)
    right.set_ylabel("gateway-added latency, s")
    right.set_title("added latency (all queued at once)", fontsize=10)
    right.legend(fontsize=8)
    fig.suptitle(
        f"{report['n']:,} RoomUpdate over {report['keys']:,} keys, vendor"
        f" {report['latency_ms']:.0f} ms, in-flight {report['in_flight']}, no rate limit",
        fontsize=10,
    )
    save(fig, "commands_throughput")


async def main() -> None:
    parser = scenario_parser(
        __doc__,
        keys=None,
        keys_help="rooms (default 1000; quick 500)",
        quick_help="smoke run: 2,000 over 500 keys",
        suts=True,
    )
    parser.add_argument("--n", type=int, default=None, help="commands (default 20000; quick 2000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per SUT, for all results")
    args = parser.parse_args()
    args.n = args.n or (2000 if args.quick else 20000)
    args.keys = args.keys or (500 if args.quick else 1000)
    with simulator(latency_ms=args.latency_ms) as vendor_url:
        await seed_rooms(vendor_url, args.keys)
        runs = [
            await run_one(name, command, args, vendor_url)
            for name, command in systems_under_test(args, aiohttp_baseline=True)
        ]
    by_name = {r["sut"]: r for r in runs}
    gateway = by_name["gateway"]
    report: dict[str, Any] = {
        "scenario": "throughput",
        "n": args.n,
        "keys": args.keys,
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "partitions": args.partitions,
        "ceiling_per_s": round(args.in_flight / (args.latency_ms / 1000), 1),
        "runs": runs,
    }
    # gateway / each other SUT (the two minimal loops, e.g. Kafka Connect), from the same run:
    # gateway_vs_baseline_throughput, gateway_vs_baseline_aiohttp_throughput, ...; and the
    # same for the CPU per command (gateway_vs_<sut>_cpu_per_command).
    for other in runs:
        if other is gateway:
            continue
        if float(other["throughput"]):
            report[f"gateway_vs_{other['sut']}_throughput"] = round(
                float(gateway["throughput"]) / float(other["throughput"]), 3
            )
        if float(other["cpu_ms_per_command"]):
            report[f"gateway_vs_{other['sut']}_cpu_per_command"] = round(
                float(gateway["cpu_ms_per_command"]) / float(other["cpu_ms_per_command"]), 3
            )
    plot(report)
    emit("commands_throughput", report)


if __name__ == "__main__":
    asyncio.run(main())
