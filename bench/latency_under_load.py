"""Scenario 2: gateway-added latency at fixed arrival rates (100, 500, 1,000 commands/s).

The harness produces RoomUpdate commands at a fixed rate (command i at t0 + i/rate) for a
bounded time per rate, against the simulator at 20 ms, in-flight 64, no rate limit, and
reads the results as they come (read_committed). For each rate and each system under test
(the gateway and the minimal aiokafka -> httpx -> aiokafka loop, plus any ``--sut``, e.g.
Kafka Connect): gateway-added latency p50/p99 (result seen - command sent - the vendor's own
time), the rate the SUT actually delivered, whether it kept up, and its CPU (its whole
process tree). A rate above what a SUT can sustain shows as a delivered rate below the
offered one and a p99 that grows with the run's length (a queue): the figure then says how
long the backlog got, not a steady-state latency.

*Delivered* is the results' rate over the middle 80 % of them (10th to 90th percentile
arrival; or over the sending of those commands, if that took longer): a SUT that keeps up
delivers the offered rate whatever its latency and however slow its last few results; one
that falls behind spreads its results over a longer span. *Kept up*: every result came and
delivered >= 95 % of offered.

The report compares the gateway with each other SUT at every rate
(``gateway_vs_<sut>_added_latency``: both SUTs' kept-up, p50 and p99 ratios) and gives the
gateway's added p50 at 100 commands/s (``gateway_added_p50_ms_at_100``) when 100 is a rate.

Each SUT runs in its own process, one after the other, all rates in one process (a pause and
an empty backlog between rates).

    .venv/bin/python bench/latency_under_load.py                 # 10 s per rate
    .venv/bin/python bench/latency_under_load.py --quick         # 3 s per rate
    .venv/bin/python bench/latency_under_load.py --rates 200 --rates 400 --seconds 20
    .venv/bin/python bench/latency_under_load.py --sut bench/connect/run_sut.sh --sut-name connect

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
    clear_requests,
    percentile,
    produce_at_rate,
    room_updates,
    running_sut,
    scenario_parser,
    seed_rooms,
    simulator,
    sut_usage,
    systems_under_test,
    vendor_times,
)
from plotting import color, emit, figure, save


def _delivered(
    sent: dict[str, float], seen: dict[str, tuple[float, dict[str, Any]]], ids: list[str]
) -> float:
    """Results per second over the middle 80 % of them: between the arrival of the 10th and
    the 90th percentile result, or the sending of the same ranks of commands if that took
    longer (a SUT that starts late and catches up delivers no more than was offered). The
    first and last results' latency (a tail of a few slow ones) does not count."""
    if len(ids) < 10:
        return 0.0
    arrived = sorted(seen[i][0] for i in ids)
    sends = sorted(sent.values())
    lo, hi = round(0.1 * (len(ids) - 1)), round(0.9 * (len(ids) - 1))
    span = max(arrived[hi] - arrived[lo], sends[hi] - sends[lo])
    return (hi - lo) / span if span > 0 else 0.0


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
    ok = sum(1 for i in ids if seen[i][1].get("status") == "succeeded")
    produced = (len(sent) - 1) / (last_sent - first_sent) if last_sent > first_sent else 0.0
    delivered = _delivered(sent, seen, ids)
    return {
        "offered_per_s": rate,
        "commands": len(sent),
        "results": len(ids),
        "succeeded": ok,
        "missing": missing,
        "produce_s": round(last_sent - first_sent, 2),
        "produced_per_s": round(produced, 1),
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
        await run.collector.start()
        for rate in args.rates:
            commands = room_updates(round(rate * args.seconds), args.keys)
            cpu0, _ = sut_usage(run.proc)
            sent = await produce_at_rate(args.bootstrap, run.topics.commands, commands, rate)
            missing = await run.collector.wait_for(list(sent), within=args.drain)
            cpu1, rss = sut_usage(run.proc)
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


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b and a == a and b == b else None  # None: b is 0 or NaN


def compare(
    gateway: dict[float, dict[str, Any]], name: str, other: dict[float, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per rate (the key: ``f"{rate:g}"``): whether each kept up (``<name>_kept_up``,
    ``gateway_kept_up``), and the gateway's added p50 and p99 over the other SUT's (None
    where the other's is 0)."""
    return {
        f"{rate:g}": {
            f"{name}_kept_up": theirs["kept_up"],
            "gateway_kept_up": gateway[rate]["kept_up"],
            "p50": _ratio(gateway[rate]["added_p50_ms"], theirs["added_p50_ms"]),
            "p99": _ratio(gateway[rate]["added_p99_ms"], theirs["added_p99_ms"]),
        }
        for rate, theirs in other.items()
        if rate in gateway
    }


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
    report = {
        "scenario": "latency_under_load",
        "rates": args.rates,
        "seconds": args.seconds,
        "keys": args.keys,
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "partitions": args.partitions,
        "runs": runs,
        **{
            f"gateway_vs_{name}_added_latency": compare(by_name["gateway"], name, rates)
            for name, rates in by_name.items()
            if name != "gateway"
        },
        "gateway_added_p50_ms_at_100": (
            by_name["gateway"][100.0]["added_p50_ms"] if 100.0 in by_name["gateway"] else None
        ),
        "total_s": round(time.perf_counter() - started, 1),
    }
    plot(report)
    emit("latency_under_load", report)


if __name__ == "__main__":
    asyncio.run(main())
