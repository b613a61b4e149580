"""The operations endpoint of every `gateway run` process: /healthz, /readyz, /metrics.

Roles without an HTTP surface of their own (commands, poller) still need probes and a scrape
target; this small Starlette app on its own port serves them for whatever roles the process
runs. Readiness runs the checks of :mod:`gateway.app.readiness` (``kafka``, the broker
reachable, and ``vendor``, a token obtainable, for every role; ``topics`` while a role of the
process needs topics, that they exist); its answer
is kept for ``READINESS_CACHE_S`` and concurrent probes share one run, so a burst of
``/readyz`` calls costs the broker and the vendor one round each. Only this port serves
``/readyz`` and ``/metrics`` (the webhooks API port serves the API and ``/healthz``); it
listens on loopback unless ``GATEWAY_OPS__HOST`` says otherwise (the image and the chart set
0.0.0.0, and the chart's NetworkPolicy limits who may reach it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.app.readiness import ReadinessCheck, run_checks

__all__ = ["READINESS_CACHE_S", "CachedReadiness", "build_ops_app", "serve_ops"]

#: How long one readiness answer is reused.
READINESS_CACHE_S = 1.0


class CachedReadiness:
    """The checks' outcome, run at most once per ``cache_s`` (concurrent callers share a run)."""

    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck],
        *,
        timeout_s: float = 5.0,
        cache_s: float = READINESS_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = checks
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, tuple[bool, dict[str, str]]] | None = None
        self.runs = 0

    async def __call__(self) -> tuple[bool, dict[str, str]]:
        """(every check passed, outcome by name), at most ``cache_s`` old."""
        async with self._lock:
            if self._last is not None and self._clock() - self._last[0] < self._cache_s:
                return self._last[1]
            self.runs += 1
            outcome = await run_checks(self._checks, self._timeout_s)
            self._last = (self._clock(), outcome)
            return outcome


def build_ops_app(
    checks: Mapping[str, ReadinessCheck], *, cache_s: float = READINESS_CACHE_S
) -> Starlette:
    """The app: liveness, readiness (every check must pass within 5 s; the answer is reused
    for ``cache_s``) and Prometheus metrics."""
    readiness = CachedReadiness(checks, cache_s=cache_s)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        ready, outcomes = await readiness()
        return JSONResponse({"ready": ready, "checks": outcomes}, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
    app.state.readiness = readiness
    return app


async def serve_ops(
    host: str, port: int, checks: Mapping[str, ReadinessCheck], stop: asyncio.Event
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
