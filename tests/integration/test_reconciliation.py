"""After a crash between the vendor call and the stored outcome, the retry reconciles."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from gateway.commands.handler import Account, CommandHandler
from gateway.idempotency import fingerprint, scope_key
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.messages.envelope import CommandEnvelope
from gateway.vendor_api import VendorClient
from tests.handler_support import handler_config


async def _handler(
    vendor_client: VendorClient, tmp_path: Path
) -> tuple[CommandHandler, SqliteIdempotencyStore]:
    store = await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3")
    account = Account("default", vendor_client)
    handler = CommandHandler(
        {"default": account},
        store,
        handler_config("gw:new", lease_s=0.1),
    )
    return handler, store


async def _crashed_claim(store: SqliteIdempotencyStore, command: CommandEnvelope) -> None:
    """What a process that died after calling the vendor leaves behind: a lapsing claim."""
    key = scope_key(command.account, command.effective_idempotency_key)
    await store.claim(key, fingerprint(command.type, command.payload), "gw:dead/x", 0.0)


async def test_room_create_reconciled_by_probe_without_second_create(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The room exists already: the retry reads it and succeeds, /room/create is not sent again."""
    handler, store = await _handler(vendor_client, tmp_path)
    command = CommandEnvelope(
        id=str(uuid.uuid4()), type="RoomCreate", payload={"topic": "t", "room_id": "75000000001"}
    )
    await vendor_client.call_command("RoomCreate", command.payload)  # the dead process's call
    await _crashed_claim(store, command)
    result = await handler.handle(command)
    await store.close()
    assert result.status == "succeeded"
    assert result.result is not None
    assert result.result["reconciled"] is True
    assert (await sim.get("/_sim/calls")).json()["calls"]["/room/create"] == 1


async def test_stop_live_reconciled_from_state_error(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """StopLive already done: the repeat meets 'not started', which after a reclaim means done."""
    handler, store = await _handler(vendor_client, tmp_path)
    (await sim.post("/_sim/rooms", json={"room_id": "75000000002"})).raise_for_status()
    await vendor_client.call_command(
        "StartLive", {"room_id": "75000000002", "push_url": "rtmp://x/y"}
    )
    command = CommandEnvelope(
        id=str(uuid.uuid4()), type="StopLive", payload={"room_id": "75000000002"}
    )
    await vendor_client.call_command("StopLive", command.payload)  # the dead process's call
    await _crashed_claim(store, command)
    result = await handler.handle(command)
    await store.close()
    assert result.status == "succeeded"
    assert result.vendor is not None
    assert result.vendor.ret in (40041, 40061, 40065)


async def test_same_error_without_a_reclaim_is_a_failure(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Outside a reclaim, 40005 is a real failure: the room belonged to someone else."""
    handler, store = await _handler(vendor_client, tmp_path)
    await vendor_client.call_command("RoomCreate", {"topic": "t", "room_id": "75000000003"})
    command = CommandEnvelope(
        id=str(uuid.uuid4()), type="RoomCreate", payload={"topic": "t", "room_id": "75000000003"}
    )
    result = await handler.handle(command)
    await store.close()
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.code == 40005
