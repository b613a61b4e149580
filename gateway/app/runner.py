"""`gateway run`: start the chosen roles and stop them cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from gateway.app.accounts import build_limiter, share_limiters
from gateway.app.commands_role import run_commands_role
from gateway.app.ops_server import serve_ops
from gateway.app.poller_role import run_poller_role
from gateway.app.readiness import Readiness
from gateway.app.redis_client import open_redis
from gateway.app.webhooks_role import run_webhooks_role
from gateway.ratelimit import Lane, OnLane
from gateway.settings import GatewaySettings
from gateway.telemetry.metrics import track_asyncio_tasks

__all__ = ["ROLES", "run_roles"]

ROLES = ("commands", "webhooks", "poller")


async def run_roles(settings: GatewaySettings, roles: list[str]) -> None:
    """Run ``roles`` until a signal asks to stop; each role finishes its own shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    track_asyncio_tasks(loop)  # gateway_asyncio_tasks on /metrics
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    share_limiters(roles)  # roles in one process draw on one in-process budget per account
    tasks = []
    if "commands" in roles:
        tasks.append(asyncio.create_task(run_commands_role(settings, stop), name="commands"))
    if "webhooks" in roles:
        tasks.append(asyncio.create_task(run_webhooks_role(settings, stop), name="webhooks"))
    if "poller" in roles:
        tasks.append(asyncio.create_task(run_poller_role(settings, stop), name="poller"))
    ops = None
    redis = open_redis(settings) if settings.ops.enabled else None
    if settings.ops.enabled:
        # The probe's token fetch is a vendor request too: it takes a slot of the default
        # account's limiter, on the commands lane when this process runs the commands role
        # (else the poller's): the share this process spends anyway.
        lane = Lane.COMMANDS if "commands" in roles or "poller" not in roles else Lane.POLLER
        limiter = build_limiter("default", settings.vendor.rate_limit, redis)
        readiness = Readiness(settings, OnLane(limiter, lane))
        ops = asyncio.create_task(
            serve_ops(settings.ops.host, settings.ops.port, readiness.checks, stop)
        )
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    if ops is not None:
        await ops
        await readiness.aclose()
    if redis is not None:
        await redis.aclose()
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            logging.getLogger("gateway.app").error("role %s failed: %r", task.get_name(), result)
            raise result
