"""Scenario 0: the vendor simulator's capacity alone, so that no scenario measures the simulator.

The simulator runs in its own process (one process: its state, tokens, request log and
vendor-side rate limit live in that process's memory, so it cannot be spread over several
workers without changing what it simulates). It is driven with ``RoomUpdate`` requests, the
request the commands scenarios send, by ``bench/rawhttp.py``'s keep-alive client (httpx
costs more CPU per request than the simulator, and would measure itself):

- ``latency 0 ms``: 1 client process x 32 connections, then 2 processes x 32 connections;
  the simulator's own CPU share tells whether it was saturated (1.0 = one full core).
- ``latency 20 ms``: 1 client process x 64 connections, the commands scenarios' setting
  (in-flight 64, 20 ms): their ceiling is 64 / 20 ms = 3,200 requests/s.

Prints one JSON line, writes ``bench/results/sim_capacity.{json,png}``::

    .venv/bin/python bench/sim_capacity.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SIMULATOR_PIDS, _proc_usage, simulator
from plotting import emit, figure, save
from rawhttp import build_request, drive

ROOM = "80000000000"


def _requests(port: int, token: str, tag: str, n: int = 2000) -> list[bytes]:
    return [
        build_request(
            port,
            "/sdkapi/v2/room/update",
            f"token={token}&room_id={ROOM}&topic=cap-{tag}-{i}".encode(),
        )
        for i in range(n)
    ]


def _client(port: int, token: str, tag: str, connections: int, seconds: float) -> dict[str, Any]:
    """One client process: drive for ``seconds``; its counts and CPU."""
    load = asyncio.run(drive(port, _requests(port, token, tag), connections, duration_s=seconds))
    return {
        "requests": load.requests,
        "seconds": load.seconds,
        "client_cpu_s": load.client_cpu_s,
        "ok": load.statuses.get(200, 0),
    }


def measure(
    url: str, token: str, processes: int, connections: int, seconds: float, label: str
) -> dict[str, Any]:
    """``processes`` client processes at once against the simulator; requests/s and its CPU."""
    port = int(url.rsplit(":", 1)[1])
    httpx.delete(f"{url}/_sim/requests").raise_for_status()
    pid = SIMULATOR_PIDS[url]
    cpu0, _ = _proc_usage(pid)
    with ProcessPoolExecutor(processes) as pool:
        runs = list(
            pool.map(
                _client,
                [port] * processes,
                [token] * processes,
                [f"{label}-{p}" for p in range(processes)],
                [connections] * processes,
                [seconds] * processes,
            )
        )
    cpu1, rss = _proc_usage(pid)
    requests = sum(r["requests"] for r in runs)
    span = max(r["seconds"] for r in runs)
    return {
        "label": label,
        "client_processes": processes,
        "connections": connections * processes,
        "requests": requests,
        "ok": sum(r["ok"] for r in runs),
        "seconds": round(span, 2),
        "rps": round(requests / span, 1),
        # CPU share of the simulator process over the run (1.0 = one core, its maximum)
        # (over the clients' span: the pool's start-up before it is idle time for it)
        "simulator_cpu_share": round((cpu1 - cpu0) / span, 2),
        "client_cpu_share": round(sum(r["client_cpu_s"] for r in runs) / span, 2),
        "simulator_rss_mb": round(rss / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--quick", action="store_true", help="2 s per measurement")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    runs = []
    for latency in (0.0, 20.0):
        with simulator(latency_ms=latency) as url:
            httpx.post(f"{url}/_sim/rooms", json={"room_id": ROOM}).raise_for_status()
            token = httpx.post(
                f"{url}/sdkapi/v2/app/get_token",
                data={"access_key": "demo_access", "secret_key": "demo_secret"},
            ).json()["token"]
            # warm-up (imports, first allocations), not measured
            measure(url, token, 1, 8, 0.5, "warmup")
            if latency == 0.0:
                for processes in (1, 2):
                    run = measure(url, token, processes, 32, seconds, f"0ms-{processes}p")
                    runs.append({"latency_ms": latency, **run})
            else:
                run = measure(url, token, 1, 64, seconds, "20ms-1p")
                runs.append({"latency_ms": latency, **run})
    zero = [r for r in runs if r["latency_ms"] == 0.0]
    capacity = max(r["rps"] for r in zero)
    at_20 = next(r for r in runs if r["latency_ms"] == 20.0)
    report = {
        "scenario": "sim_capacity",
        "seconds_per_run": seconds,
        "capacity_rps": capacity,
        "capacity_at_20ms_64_rps": at_20["rps"],
        "ceiling_at_20ms_64_rps": 3200.0,
        "saturated": max(r["simulator_cpu_share"] for r in zero) >= 0.9,
        "runs": runs,
    }
    fig, ax = figure()
    labels = [
        f"{r['latency_ms']:.0f} ms, {r['client_processes']} client proc.\n{r['connections']} conns"
        for r in runs
    ]
    bars = ax.bar(labels, [r["rps"] for r in runs], color="#1f77b4")
    for bar, r in zip(bars, runs, strict=True):
        ax.annotate(
            f"{r['rps']:,.0f}/s\nsim CPU {r['simulator_cpu_share']:.2f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("RoomUpdate requests/s")
    ax.set_title("Vendor simulator alone (one process), keep-alive raw HTTP client")
    ax.set_ylim(0, max(r["rps"] for r in runs) * 1.25)
    save(fig, "sim_capacity")
    emit("sim_capacity", report)


if __name__ == "__main__":
    main()
