"""The operations endpoint of every `gateway run` process: /healthz, /readyz, /metrics.

Roles without an HTTP surface of their own (commands, poller) still need probes and a scrape
target; this small Starlette app on its own port serves them for whatever roles the process
runs. Readiness asks each role's check (broker reachable, vendor token obtainable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.webhooks.readiness import run_checks

__all__ = ["ReadinessCheck", "build_ops_app", "serve_ops"]

ReadinessCheck = Callable[[], Awaitable[None]]  # raises when not ready


def build_ops_app(checks: dict[str, ReadinessCheck]) -> Starlette:
    """The app: liveness, readiness (every check must pass within 5 s) and Prometheus metrics."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        ready, outcomes = await run_checks(checks, 5.0)
        return JSONResponse({"ready": ready, "checks": outcomes}, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


async def serve_ops(
    host: str, port: int, checks: dict[str, ReadinessCheck], stop: asyncio.Event
) -> None:
    """Serve until ``stop`` is set."""
    server = uvicorn.Server(
        uvicorn.Config(
            build_ops_app(checks),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
