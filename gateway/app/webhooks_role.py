"""Wiring of the webhooks role: producer, the one results reader, replay guard, readiness
checks and the Starlette app, served by uvicorn until stopped.

:func:`webhooks_app` builds the app with everything it needs started (tests and the bench
drive it in-process); :func:`run_webhooks_role` serves it. The results reader is positioned
at the end of the results topic before the app exists, so no request can produce a command
whose result the reader could miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import uvicorn
from prometheus_client import make_asgi_app
from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.app.accounts import build_limiter
from gateway.app.commands_role import open_redis
from gateway.app.kafka import make_consumer, make_producer
from gateway.app.vendor import build_vendor_client
from gateway.ratelimit import Lane, request_budget
from gateway.settings import GatewaySettings
from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.follower import follow_results, position_results
from gateway.webhooks.ingress import CommandIngress, IngressConfig
from gateway.webhooks.openapi import openapi_document
from gateway.webhooks.publisher import KafkaCommandPublisher
from gateway.webhooks.readiness import run_checks
from gateway.webhooks.replay import InProcessReplayGuard, RedisReplayGuard, ReplayGuard
from gateway.webhooks.results import ResultBoard
from gateway.webhooks.routes import create_app
from gateway.webhooks.signature import Verifier

__all__ = ["run_webhooks_role", "webhooks_app"]

log = logging.getLogger("gateway.app")


class _RoleServer(uvicorn.Server):
    """uvicorn without its own signal handlers: ``gateway run`` owns SIGTERM for every role."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@asynccontextmanager
async def webhooks_app(
    settings: GatewaySettings, *, middleware: Sequence[Middleware] = ()
) -> AsyncIterator[Starlette]:
    """The ingress app, its Kafka clients started and its results reader running."""
    wh, kafka = settings.webhooks, settings.kafka
    if not wh.secrets:
        log.warning(
            "no webhook secret is configured (GATEWAY_WEBHOOKS__SECRETS): "
            "every POST /v1/commands will be refused with 401"
        )
    async with AsyncExitStack() as stack:
        redis = open_redis(settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        client_id = f"{kafka.client_id}-{settings.instance_id}-webhooks"
        producer = make_producer(kafka, client_id=client_id)
        await producer.start()
        stack.push_async_callback(producer.stop)
        # No group: every replica reads every partition of the results topic, commits nothing.
        results = make_consumer(kafka, client_id=client_id, group_id=None)
        await results.start()
        stack.push_async_callback(results.stop)
        board = ResultBoard(wh.results_index_size)
        await position_results(results, kafka.results_topic, read_back=wh.results_index_size)
        stop_reading = asyncio.Event()
        reader = asyncio.create_task(
            follow_results(results, board, stop_reading), name="webhooks-results"
        )

        async def stop_reader() -> None:
            stop_reading.set()
            await reader

        stack.push_async_callback(stop_reader)
        # Readiness asks for a token through the account's limiter, on the low-priority lane.
        vendor = build_vendor_client(
            settings.vendor, build_limiter("default", settings.vendor.rate_limit, redis)
        )
        stack.push_async_callback(vendor.aclose)
        publisher = KafkaCommandPublisher(producer, kafka.commands_topic, wh.publish_timeout_s)

        async def vendor_token() -> None:
            with request_budget(Lane.POLLER, time.time() + wh.readiness_timeout_s):
                await vendor.tokens.get()

        async def readiness() -> tuple[bool, dict[str, str]]:
            checks = {"broker": publisher.ready, "vendor": vendor_token}
            return await run_checks(checks, wh.readiness_timeout_s)

        replay: ReplayGuard = RedisReplayGuard(redis) if redis else InProcessReplayGuard()
        ingress = CommandIngress(
            Verifier.from_secrets((s.get_secret_value() for s in wh.secrets), wh.tolerance_s),
            replay,
            publisher,
            board,
            ClientRateLimiter(wh.client_rate_per_s, wh.client_burst),
            IngressConfig(max_body_bytes=wh.max_body_bytes, wait_max_s=wh.wait_max_s),
        )
        yield create_app(
            ingress,
            readiness,
            openapi_document(),
            metrics_app=make_asgi_app(),
            middleware=middleware,
        )


def _server(settings: GatewaySettings, app: Starlette) -> uvicorn.Server:
    wh = settings.webhooks
    return _RoleServer(
        uvicorn.Config(
            app,
            host=wh.host,
            port=wh.port,
            lifespan="off",
            log_config=None,  # uvicorn's records go through the gateway's (redacting) handler
            access_log=False,  # gateway_webhook_requests_total and spans cover each request
            proxy_headers=True,
            forwarded_allow_ips=wh.forwarded_allow_ips,
            timeout_graceful_shutdown=math.ceil(wh.shutdown_grace_s),
        )
    )


@contextlib.contextmanager
def _cancelling(task: asyncio.Task[object]) -> Iterator[None]:
    try:
        yield
    finally:
        task.cancel()


async def run_webhooks_role(settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Serve the ingress until ``stop`` is set, then finish open requests within the grace."""
    async with webhooks_app(settings) as app:
        server = _server(settings, app)
        serving = asyncio.create_task(server.serve(), name="webhooks-http")
        stopping: asyncio.Task[object] = asyncio.create_task(stop.wait())
        with _cancelling(stopping):
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        log.info("webhooks role stopping")
        server.should_exit = True
        await serving
