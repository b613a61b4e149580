"""`gateway run`: start the chosen roles and stop them cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from gateway.app.commands_role import run_commands_role
from gateway.settings import GatewaySettings

__all__ = ["ROLES", "run_roles"]

ROLES = ("commands",)


async def run_roles(settings: GatewaySettings, roles: list[str]) -> None:
    """Run ``roles`` until a signal asks to stop; each role finishes its own shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = []
    if "commands" in roles:
        tasks.append(asyncio.create_task(run_commands_role(settings, stop), name="commands"))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            logging.getLogger("gateway.app").error("role %s failed: %r", task.get_name(), result)
            raise result
