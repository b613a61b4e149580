"""Shared fixtures: the real services (tests/services.py) and the simulator over a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.app.embedded_simulator import embedded_simulator, simulator_process, simulator_vendor
from gateway.app.vendor import build_vendor_client
from gateway.vendor_api import VendorClient
from tests.services import kafka_bootstrap, redis_url  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
async def simulator_url() -> AsyncIterator[str]:
    """The vendor simulator, served by uvicorn on a free loopback port for the whole session."""
    async with embedded_simulator() as url:
        yield url


@pytest.fixture
async def sim(simulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the simulator's scenario API; the simulator is reset before each test."""
    async with httpx.AsyncClient(base_url=simulator_url) as client:
        (await client.post("/_sim/reset")).raise_for_status()
        yield client


@pytest.fixture
async def vendor_client(simulator_url: str, sim: httpx.AsyncClient) -> AsyncIterator[VendorClient]:
    """The real vendor client talking HTTP to the (freshly reset) simulator."""
    client = build_vendor_client(simulator_vendor(simulator_url))
    yield client
    await client.aclose()


@pytest.fixture
def external_simulator() -> Iterator[str]:
    """The simulator in a process of its own, for tests that time arrivals (rate limits)."""
    with simulator_process() as url:
        yield url
