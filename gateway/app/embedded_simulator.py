"""Run the vendor simulator inside this process, on a free loopback port.

Used by the demo (and by tests that want a real socket without a second process): uvicorn
serves the simulator app from a task on the running event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn

from gateway.settings import VendorSettings
from gateway.simulator import SimulatorSettings, create_app

__all__ = [
    "SIMULATOR_KEYS_ENV",
    "embedded_simulator",
    "free_port",
    "simulator_process",
    "simulator_vendor",
]

# The simulator's demo account (its own defaults). The gateway has no default keys: whatever
# runs it against the simulator (demo, tests, bench, chaos) passes these.
_SIM_ACCESS_KEY = str(SimulatorSettings.model_fields["access_key"].default)
_SIM_SECRET_KEY = SimulatorSettings.model_fields["secret_key"].default.get_secret_value()

#: The environment of a ``gateway run`` against the simulator's demo account.
SIMULATOR_KEYS_ENV = {
    "GATEWAY_VENDOR__ACCESS_KEY": _SIM_ACCESS_KEY,
    "GATEWAY_VENDOR__SECRET_KEY": _SIM_SECRET_KEY,
}


def simulator_vendor(base_url: str, **settings: Any) -> VendorSettings:
    """Vendor settings for the simulator at ``base_url``, on its demo account."""
    keys = {"access_key": _SIM_ACCESS_KEY, "secret_key": _SIM_SECRET_KEY}
    return VendorSettings.model_validate({"base_url": base_url, **keys, **settings})


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


@contextmanager
def simulator_process(env: Mapping[str, str] | None = None, within: float = 15.0) -> Iterator[str]:
    """The simulator in a process of its own (``GATEWAY_SIMULATOR_*`` settings from ``env``);
    yields its base URL once it answers. For anything that times arrivals: in-process, its
    event loop would share every stall of the code under test."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "simulator", "--port", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + within
        while True:
            try:
                httpx.get(f"{url}/_sim/calls", timeout=0.5).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the simulator process did not start (exit {proc.poll()})"
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
