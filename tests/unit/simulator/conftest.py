"""Fixtures of the simulator's unit tests: a fresh simulator per test, called over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .vendor_client import VendorClient, simulator


@pytest.fixture
async def vendor() -> AsyncIterator[VendorClient]:
    """A logged-in client of a fresh, seeded simulator (device calls answer on demand)."""
    async with simulator() as client:
        yield client
