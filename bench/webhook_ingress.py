"""Scenario: webhook ingress throughput, signed requests/s accepted to Kafka, with baselines.

Three measurements in one run, all on loopback against the same Kafka:

- ``gateway``: ``gateway run --role webhooks`` in its own process; N requests, each signed
  (Standard Webhooks, a fresh webhook-id) ahead of time, sent over C keep-alive HTTP/1.1
  connections by a minimal asyncio client; a request counts when answered 202 (the broker
  acknowledged the record).
- ``baseline``: the same uvicorn + Starlette stack in its own process, with the ingress taken
  out: read the body, ``json.loads``, ``send_and_wait`` to the same topic, answer 202. No
  signature, no envelope validation, no replay guard, no rate limit, no telemetry.
- ``kafka_only``: C concurrent ``send_and_wait`` of the same bodies from this process,
  no HTTP at all: the ceiling the producer settings allow.

Each server run also reports its own CPU time per accepted request (from ``/proc``): on a
small machine the load generator, the broker and the server share the cores, so requests/s
alone may measure the neighbours; the CPU cost per request is the ingress's own.

Prints one JSON line and writes ``bench/results/webhook_ingress.{json,png}``::

    .venv/bin/python bench/webhook_ingress.py --n 5000 --concurrency 32
    .venv/bin/python bench/webhook_ingress.py --quick       # 1,000 requests
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.webhooks.signature import signed_headers  # noqa: E402
from rigkit.topics import create_topics  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-secret-bytes-0123456789abcd").decode()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def records_on(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (sum of end offsets; nothing else writes to it)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + 10
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=100)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


def bodies(n: int) -> list[bytes]:
    """N command envelopes (RoomList over 100 rooms as keys)."""
    return [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": "RoomRead",
                "payload": {"room_id": f"9{i % 100:010d}"},
            }
        ).encode()
        for i in range(n)
    ]


def raw_request(port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """One complete HTTP/1.1 POST /v1/commands, bytes ready to write (keep-alive)."""
    lines = [
        "POST /v1/commands HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_status(reader: asyncio.StreamReader) -> int:
    """Read one response off a keep-alive connection; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def drive(port: int, payloads: list[bytes], concurrency: int, sign: bool) -> dict[str, Any]:
    """Send every payload (signed ahead of time) over C keep-alive connections; count 202s.

    A hand-written HTTP/1.1 client on asyncio streams: an HTTP client library costs more CPU
    per request than the server under test, and would be what the bench measured.
    """
    requests = [raw_request(port, p, signed_headers(SECRET, p) if sign else {}) for p in payloads]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                t0 = time.perf_counter()
                writer.write(request)
                status = await read_status(reader)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_started
    accepted = statuses.get(202, 0)
    return {
        "requests": len(payloads),
        "accepted": accepted,
        "seconds": round(seconds, 3),
        "rps": round(accepted / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_cpu_share": round(client_cpu / seconds, 2),  # near 1.0: the client is the limit
    }


async def kafka_only(
    bootstrap: str, topic: str, payloads: list[bytes], concurrency: int
) -> dict[str, Any]:
    """The same bodies straight to Kafka with the gateway's producer settings, C at a time."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)

    async def worker() -> None:
        while not queue.empty():
            await producer.send_and_wait(topic, queue.get_nowait(), key=b"k")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return {
        "requests": len(payloads),
        "seconds": round(seconds, 3),
        "rps": round(len(payloads) / seconds, 1),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and all its descendants (from /proc; a
    server started with several worker processes counts whole: ``harness._proc_usage``)."""
    from harness import _proc_usage  # bench/: the scripts' directory, on sys.path

    return _proc_usage(pid)[0]


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server process of its own (its own session, so it can be stopped as a group)."""
    return subprocess.Popen(argv, env=env, start_new_session=True)  # noqa: S603 - our own argv


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process we started, SIGKILL if it does not go within 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except ProcessLookupError:
        pass  # already gone
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


async def wait_http(base_url: str, proc: subprocess.Popen[bytes], path: str) -> None:
    """Until the server answers ``path`` (or its process has died)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                await client.get(path)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def measure_server(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    payloads: list[bytes],
    args: argparse.Namespace,
    sign: bool,
) -> dict[str, Any]:
    """Start one server, warm it up, drive it, stop it."""
    proc = start(argv, env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(base_url, proc, "/healthz")
        await drive(port, bodies(50), min(8, args.concurrency), sign)  # warm-up
        cpu_before = cpu_seconds(proc.pid)
        run = await drive(port, payloads, args.concurrency, sign)
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        stop(proc)
    # Server CPU per accepted request: the ingress's own cost, whatever the load generator does.
    per_request = cpu * 1000 / max(1, run["accepted"])
    return {
        "name": name,
        **run,
        "server_cpu_s": round(cpu, 2),
        "cpu_ms_per_request": round(per_request, 3),
    }


def serve_baseline(port: int, bootstrap: str, topic: str) -> None:
    """The baseline server: uvicorn + Starlette, body -> json.loads -> send_and_wait -> 202."""
    import contextlib

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    producer: AIOKafkaProducer | None = None

    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        command = json.loads(body)
        assert producer is not None
        await producer.send_and_wait(topic, body, key=str(command["payload"]["room_id"]).encode())
        return JSONResponse({"id": command["id"], "status": "accepted"}, 202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        nonlocal producer
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        await producer.start()
        yield
        await producer.stop()

    app = Starlette(
        routes=[Route("/v1/commands", submit, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )
    # The stdlib loop, as `gateway run` uses (uvicorn alone would pick uvloop).
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, loop="asyncio"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="requests per measurement (5000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.n = args.n or (1000 if args.quick else 5000)
    return args


async def main(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:10]
    gw_topic, gw_results = f"bench-wh-{run_id}.commands", f"bench-wh-{run_id}.results"
    base_topic, kafka_topic = f"bench-wh-{run_id}.baseline", f"bench-wh-{run_id}.kafka"
    await create_topics(
        args.bootstrap,
        [(t, args.partitions) for t in (gw_topic, gw_results, base_topic, kafka_topic)],
    )
    payloads = bodies(args.n)

    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_KAFKA__BOOTSTRAP_SERVERS": args.bootstrap,
        "GATEWAY_KAFKA__COMMANDS_TOPIC": gw_topic,
        "GATEWAY_KAFKA__RESULTS_TOPIC": gw_results,
        "GATEWAY_WEBHOOKS__PORT": str(port),
        "GATEWAY_WEBHOOKS__SECRETS": SECRET,
        # No vendor is called here, but `gateway run` needs keys: the simulator's demo pair.
        "GATEWAY_VENDOR__ACCESS_KEY": "demo_access",
        "GATEWAY_VENDOR__SECRET_KEY": "demo_secret",
        "GATEWAY_WEBHOOKS__CLIENT_RATE_PER_S": "1000000",
        "GATEWAY_WEBHOOKS__CLIENT_BURST": "1000000",
        "GATEWAY_OPS__ENABLED": "false",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_INSTANCE_ID": f"bench-{run_id}",
    }
    gateway = await measure_server(
        "gateway",
        [sys.executable, "-m", "gateway", "run", "--role", "webhooks"],
        env,
        port,
        payloads,
        args,
        sign=True,
    )
    port = free_port()
    baseline = await measure_server(
        "baseline",
        [
            sys.executable,
            __file__,
            "--serve-baseline",
            str(port),
            "--bootstrap",
            args.bootstrap,
            "--topic",
            base_topic,
        ],
        dict(os.environ),
        port,
        payloads,
        args,
        sign=False,
    )
    direct = await kafka_only(args.bootstrap, kafka_topic, payloads, args.concurrency)
    on_kafka = await records_on(args.bootstrap, gw_topic)
    report = {
        "scenario": "webhook_ingress",
        "n": args.n,
        "concurrency": args.concurrency,
        "partitions": args.partitions,
        "gateway_rps": gateway["rps"],
        "baseline_rps": baseline["rps"],
        "kafka_only_rps": direct["rps"],
        "gateway_vs_baseline": round(gateway["rps"] / baseline["rps"], 3),
        "gateway_cpu_ms_per_request": gateway["cpu_ms_per_request"],
        "baseline_cpu_ms_per_request": baseline["cpu_ms_per_request"],
        "gateway_on_kafka": on_kafka,  # warm-up (50) + accepted
        "runs": [gateway, baseline, {"name": "kafka_only", **direct}],
    }
    sys.path.insert(0, str(ROOT / "bench"))
    from plotting import emit  # here, not at the top: the baseline server runs this file too

    plot(report)
    emit("webhook_ingress", report)


def plot(report: dict[str, Any]) -> None:
    """Requests/s accepted per server, with each server's CPU per request."""
    from plotting import color, figure, save

    runs = report["runs"]
    names = [r["name"] for r in runs]
    fig, ax = figure()
    bars = ax.bar(names, [r["rps"] for r in runs], color=[color(n) for n in names])
    for bar, r in zip(bars, runs, strict=True):
        note = f"{r['rps']:,.0f}/s"
        if "cpu_ms_per_request" in r:
            note += f"\n{r['cpu_ms_per_request']:.2f} ms CPU/request"
        ax.annotate(
            note,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_ylim(0, max(r["rps"] for r in runs) * 1.25)
    ax.set_ylabel("requests/s accepted to Kafka")
    ax.set_title(
        f"webhook ingress: {report['n']:,} requests over {report['concurrency']} keep-alive"
        " connections (gateway: signed; baseline: no checks; kafka_only: no HTTP)",
        fontsize=9,
    )
    save(fig, "webhook_ingress")


if __name__ == "__main__":
    ARGS = parse_args()
    if ARGS.serve_baseline:  # the baseline server's own process (see measure_server)
        serve_baseline(ARGS.serve_baseline, ARGS.bootstrap, ARGS.topic)
    else:
        asyncio.run(main(ARGS))
