"""Run the vendor simulator inside this process, on a free loopback port.

Used by the demo (and by tests that want a real socket without a second process): uvicorn
serves the simulator app from a task on the running event loop.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from gateway.simulator import SimulatorSettings, create_app

__all__ = ["embedded_simulator", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def embedded_simulator(
    settings: SimulatorSettings | None = None,
) -> AsyncIterator[str]:
    """Serve the simulator until the block ends; yields its base URL."""
    settings = settings or SimulatorSettings(port=free_port())
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        await asyncio.sleep(0.01)
    try:
        yield f"http://{settings.host}:{settings.port}"
    finally:
        server.should_exit = True
        await task
