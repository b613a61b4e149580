"""The idempotency store failing around a vendor call never leads to a second vendor call."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import retry
from gateway.commands.handler import Account, CommandHandler
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.messages.envelope import CommandEnvelope
from gateway.settings import RetrySettings
from gateway.vendor_api import VendorClient
from tests.handler_support import handler_config


class FlakyStore:
    """A real store whose ``complete`` fails a number of times, or forgets every claim."""

    def __init__(self, inner: SqliteIdempotencyStore, complete_failures: int = 0) -> None:
        self.inner = inner
        self.complete_failures = complete_failures
        self.renew_hangs = False

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Any:
        return await self.inner.claim(key, fingerprint, owner, lease_s)

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        if self.renew_hangs:
            # Like a redis-py call that swallows the cancel (cpython gh-86296): ignores it.
            for _ in range(50):
                try:
                    await asyncio.sleep(0.1)
                except asyncio.CancelledError:
                    continue
        return await self.inner.renew(key, owner, lease_s)

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        if self.complete_failures > 0:
            self.complete_failures -= 1
            raise ConnectionError("store unavailable")
        return await self.inner.complete(key, owner, outcome, retention_s)

    async def release(self, key: str, owner: str) -> None:
        await self.inner.release(key, owner)

    async def close(self) -> None:
        await self.inner.close()

    async def forget_everything(self) -> None:
        """What a Redis restart without persistence does."""
        await self.inner.forget_everything()


async def _handler(
    vendor_client: VendorClient, tmp_path: Path, store: FlakyStore, **config: Any
) -> CommandHandler:
    account = Account("default", vendor_client)
    return CommandHandler(
        {"default": account},
        store,
        handler_config("gw:a", **config),
    )


def _room_create(room_id: str) -> CommandEnvelope:
    return CommandEnvelope(
        id=str(uuid.uuid4()), type="RoomCreate", payload={"topic": "t", "room_id": room_id}
    )


async def _creates(sim: httpx.AsyncClient) -> int:
    return int((await sim.get("/_sim/calls")).json()["calls"].get("/room/create", 0))


async def test_failing_complete_is_retried_not_the_vendor_call(
    vendor_client: VendorClient,
    sim: httpx.AsyncClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``complete`` fails three times: the handler retries it, the vendor sees one create;
    the first failure is logged with the error's words, the retries are not."""
    store = FlakyStore(await SqliteIdempotencyStore.open(tmp_path / "i.db"), complete_failures=3)
    handler = await _handler(vendor_client, tmp_path, store)
    command = _room_create("76000000001")
    with caplog.at_level(logging.WARNING, logger="gateway.commands"):
        result = await handler.handle(command)
    assert result.status == "succeeded"
    assert store.complete_failures == 0
    assert await _creates(sim) == 1
    warned = [r.getMessage() for r in caplog.records if "storing the outcome" in r.getMessage()]
    assert warned == [
        f"storing the outcome of {command.id} failed (ConnectionError: store unavailable);"
        " trying again"
    ]
    replay = await handler.handle(command)
    await store.close()
    assert replay.replayed
    assert await _creates(sim) == 1


async def test_store_down_past_the_retry_window_publishes_and_a_rerun_reconciles(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The store stays down and then comes back empty: the rerun probes, it does not create."""
    store = FlakyStore(
        await SqliteIdempotencyStore.open(tmp_path / "i.db"), complete_failures=10**6
    )
    handler = await _handler(
        vendor_client,
        tmp_path,
        store,
        store_retry=retry.store_outcome(RetrySettings(store_outcome_s=0.3)),
    )
    command = _room_create("76000000002")
    first = await handler.handle(command)
    assert first.status == "succeeded"
    store.complete_failures = 0
    await store.forget_everything()
    rerun = await handler.handle(command)
    await store.close()
    assert rerun.status == "succeeded"
    assert rerun.result is not None
    assert rerun.result["reconciled"] is True
    assert await _creates(sim) == 1


async def test_a_heartbeat_stuck_in_the_store_does_not_hold_the_command(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A renew that ignores cancellation: the command still finishes within a bounded wait."""
    store = FlakyStore(await SqliteIdempotencyStore.open(tmp_path / "i.db"))
    store.renew_hangs = True
    handler = await _handler(vendor_client, tmp_path, store, lease_s=0.15)
    (await sim.put("/_sim/faults", json={"latency": {"fixed_ms": 200}})).raise_for_status()
    result = await asyncio.wait_for(handler.handle(_room_create("76000000003")), 5.0)
    await store.close()
    assert result.status == "succeeded"
    assert result.duration_ms < 3000
