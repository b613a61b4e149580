"""Wiring of the webhooks role: producer, the one results reader, replay guard, the senders'
keys and the Starlette app, served by uvicorn until stopped (readiness and metrics are on the
operations port, :mod:`gateway.app.ops_server`).

:func:`webhooks_app` builds the app with everything it needs started (tests and the bench
drive it in-process); :func:`run_webhooks_role` serves it. The results reader is positioned
at the end of the results topic before the app exists, so no request can produce a command
whose result the reader could miss.

The client address (which keys only the budget of requests failing authentication) comes
from X-Forwarded-For only when the peer is one of ``GATEWAY_WEBHOOKS__FORWARDED_ALLOW_IPS``
(addresses or CIDRs): uvicorn's ProxyHeadersMiddleware, added here rather than by uvicorn so
the in-process app behaves the same, then takes the right-most address that is no trusted
proxy. uvicorn bounds connections and requests at once (``limit_concurrency``; 503 beyond).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.app.kafka import make_consumer, make_producer
from gateway.app.redis_client import open_redis
from gateway.app.topics import NEEDED_TOPICS, ROLE_TOPICS, await_topics, topic_specs
from gateway.settings import GatewaySettings
from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.follower import follow_results, position_results
from gateway.webhooks.ingress import CommandIngress, IngressConfig
from gateway.webhooks.publisher import KafkaCommandPublisher
from gateway.webhooks.replay import InProcessReplayGuard, RedisReplayGuard, ReplayGuard
from gateway.webhooks.results import ResultBoard
from gateway.webhooks.routes import client_address_middleware, create_app
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
    verifier = Verifier.from_senders(
        {name: [s.get_secret_value() for s in group] for name, group in wh.senders.items()},
        [s.get_secret_value() for s in wh.secrets],
        wh.tolerance_s,
    )
    if not verifier.keys:
        log.warning(
            "no webhook secret is configured (GATEWAY_WEBHOOKS__SENDERS or __SECRETS): "
            "every request to /v1/commands will be refused with 401"
        )
    else:
        log.info("webhook senders: %s", ", ".join(sorted({k.sender for k in verifier.keys})))
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
        board = ResultBoard(wh.results_index_size, wh.max_waiters)
        # Read the most recent results back: each names its sender, so GET answers them after a
        # restart, and on every replica, to that sender alone.
        await position_results(results, kafka.results_topic, read_back=wh.results_index_size)
        stop_reading = asyncio.Event()
        reader = asyncio.create_task(
            follow_results(results, board, stop_reading), name="webhooks-results"
        )

        async def stop_reader() -> None:
            stop_reading.set()
            await reader

        stack.push_async_callback(stop_reader)
        publisher = KafkaCommandPublisher(producer, kafka.commands_topic, wh.publish_timeout_s)
        replay: ReplayGuard = RedisReplayGuard(redis) if redis else InProcessReplayGuard()
        ingress = CommandIngress(
            verifier,
            replay,
            publisher,
            board,
            ClientRateLimiter(wh.client_rate_per_s, wh.client_burst),
            IngressConfig.from_settings(wh),
            failed_auth=ClientRateLimiter(wh.failed_auth_rate_per_s, wh.failed_auth_burst),
        )
        yield create_app(
            ingress,
            middleware=[client_address_middleware(wh.forwarded_allow_ips), *middleware],
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
            proxy_headers=False,  # the app's own ProxyHeadersMiddleware (see the docstring)
            limit_concurrency=wh.limit_concurrency,
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
    """Once the commands and results topics exist, serve the ingress until ``stop`` is set,
    then finish open requests within the grace. Until they exist ``/readyz`` says so."""
    specs = topic_specs(settings, ROLE_TOPICS["webhooks"])
    with NEEDED_TOPICS.needing(spec.name for spec in specs):
        # Without the results topic the app could not start (its reader needs the
        # partitions), and the process, its /readyz with it, would end.
        if await await_topics(settings.kafka, specs, stop, create=False, who="webhooks role"):
            await _serve(settings, stop)


async def _serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    async with webhooks_app(settings) as app:
        server = _server(settings, app)
        serving = asyncio.create_task(server.serve(), name="webhooks-http")
        stopping: asyncio.Task[object] = asyncio.create_task(stop.wait())
        with _cancelling(stopping):
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        log.info("webhooks role stopping")
        server.should_exit = True
        await serving
