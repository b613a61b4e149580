"""Scenario: throughput and gateway-added latency of the commands role, with its baseline.

N RoomUpdate commands over K rooms (keys) against the simulator at a fixed latency, no rate
limit, in-flight 64. Each system under test runs in its own process; the same run measures
the gateway and the minimal aiokafka -> httpx -> aiokafka loop, and reports their ratio.

    .venv/bin/python bench/commands_throughput.py --n 5000 --keys 1000 --latency-ms 20
    .venv/bin/python bench/commands_throughput.py --sut "my-peer --flag"   # any other SUT
    .venv/bin/python bench/commands_throughput.py --sut bench/connect/run_sut.sh --sut-name connect
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BASELINE_SUT,
    GATEWAY_SUT,
    RESULTS_DIR,
    Topics,
    _proc_usage,
    collect_results,
    produce_commands,
    simulator,
    start_sut,
    stop_sut,
    summarise,
    sut_pid,
    vendor_times,
    wait_ready,
)


async def run_one(
    name: str, command: str, args: argparse.Namespace, vendor_url: str
) -> dict[str, object]:
    topics = Topics()
    await topics.create(args.bootstrap, args.partitions)
    async with httpx.AsyncClient(base_url=vendor_url) as sim:
        await sim.delete("/_sim/requests")
    env = topics.env(
        args.bootstrap,
        vendor_url,
        GATEWAY_VENDOR__RATE_LIMIT__ENABLED="false",
        GATEWAY_COMMANDS__MAX_IN_FLIGHT=str(args.in_flight),
        GATEWAY_VENDOR__MAX_CONNECTIONS=str(args.in_flight),
    )
    proc = start_sut(command, env)
    try:
        await wait_ready(args.bootstrap, topics, vendor_url, proc)
        pid = sut_pid(proc)
        cpu0, _ = _proc_usage(pid)
        rooms = [f"8{k:010d}" for k in range(args.keys)]
        commands = []
        for i in range(args.n):
            cid = str(uuid.uuid4())
            room = rooms[i % args.keys]
            commands.append(
                (
                    room.encode(),
                    {"id": cid, "type": "RoomUpdate", "payload": {"room_id": room, "topic": cid}},
                )
            )
        sent = await produce_commands(args.bootstrap, topics.commands, commands)
        got = await collect_results(args.bootstrap, topics.results, args.n + 1, within=args.timeout)
        cpu1, rss = _proc_usage(pid)
    finally:
        stop_sut(proc)
    stats = summarise(name, sent, got, await vendor_times(vendor_url), cpu1 - cpu0, rss)
    return stats.as_dict()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--sut", action="append", default=[], help="extra SUT command (repeatable)")
    parser.add_argument(
        "--sut-name",
        action="append",
        default=[],
        help="name of the n-th --sut in the report (default sutN), e.g. connect",
    )
    args = parser.parse_args()
    with simulator(latency_ms=args.latency_ms) as vendor_url:
        async with httpx.AsyncClient(base_url=vendor_url) as sim:
            for k in range(args.keys):
                (await sim.post("/_sim/rooms", json={"room_id": f"8{k:010d}"})).raise_for_status()
        runs = [
            await run_one("baseline", BASELINE_SUT, args, vendor_url),
            await run_one("gateway", GATEWAY_SUT, args, vendor_url),
        ]
        for i, command in enumerate(args.sut):
            name = args.sut_name[i] if i < len(args.sut_name) else f"sut{i + 1}"
            runs.append(await run_one(name, command, args, vendor_url))
    gateway, baseline = runs[1], runs[0]
    report = {
        "scenario": "throughput",
        "n": args.n,
        "keys": args.keys,
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "ceiling_per_s": round(args.in_flight / (args.latency_ms / 1000), 1),
        "runs": runs,
        "gateway_vs_baseline_throughput": round(
            float(gateway["throughput"]) / float(baseline["throughput"]), 3
        ),
    }
    for extra in runs[2:]:  # gateway ÷ each extra SUT (e.g. Kafka Connect), from the same run
        if float(extra["throughput"]):
            report[f"gateway_vs_{extra['sut']}_throughput"] = round(
                float(gateway["throughput"]) / float(extra["throughput"]), 3
            )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "commands_throughput.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
