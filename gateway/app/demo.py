"""`gateway demo`: a short, readable walk through the vendor API against the simulator.

It starts the simulator in this process (unless given a running one), then creates a room,
adds participants through the simulator's scenario API, lists them, invites a device, starts
and stops a live stream and reads statistics, printing each call and its answer. The
command-pipeline work turns this into the full Kafka loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx

from gateway.app.embedded_simulator import embedded_simulator
from gateway.app.vendor import build_vendor_client
from gateway.settings import VendorSettings
from gateway.vendor import VendorAnswer, VendorClient
from gateway.vendor.endpoints import device, live, participants, room
from gateway.vendor.errors import VendorError

__all__ = ["run_demo"]

ROOM_ID = "12345123456"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


async def _step(
    title: str, call: Callable[[], Awaitable[VendorAnswer]], shown: dict[str, Any]
) -> VendorAnswer:
    print(f"\n-> {title}  {_show(shown)}")
    answer = await call()
    print(f"<- {_show(answer.model_dump(exclude_none=True))}")
    return answer


async def _scenario(sim: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    print(f"\n~> simulator scenario: POST {path}  {_show(body)}")
    response = await sim.post(path, json=body)
    response.raise_for_status()


async def _walk(client: VendorClient, sim: httpx.AsyncClient) -> None:
    create = room.RoomCreateRequest(topic="Weekly sync", room_id=ROOM_ID)
    await _step(
        "RoomCreate /room/create",
        lambda: client.room_create(create),
        create.model_dump(exclude_none=True),
    )
    for user_id, name in (("u-alice", "Alice"), ("u-bob", "Bob")):
        await _scenario(
            sim, f"/_sim/rooms/{ROOM_ID}/participants", {"user_id": user_id, "user_name": name}
        )
    listing = participants.ParticipantListRequest(room_id=ROOM_ID)
    await _step(
        "ParticipantList /room/participate/list",
        lambda: client.participant_list(listing),
        listing.model_dump(),
    )
    invite = device.InviteDeviceRequest(
        room_id=ROOM_ID, uri="sip:1001@192.0.2.10", name="Boardroom"
    )
    answer = await _step(
        "InviteDevice /device/call",
        lambda: client.invite_device(invite),
        invite.model_dump(exclude_none=True),
    )
    call_id = getattr(answer, "call_id", None) or (getattr(answer, "data", None) or {}).get(
        "call_id"
    )
    if call_id:
        status = device.InviteStatusGetRequest(call_id=str(call_id))
        await _step(
            "InviteStatusGet /device/get_invite_status",
            lambda: client.invite_status_get(status),
            status.model_dump(),
        )
    start = live.StartLiveRequest(room_id=ROOM_ID, push_url="rtmp://live.example.com/app/weekly")
    await _step(
        "StartLive /room/mix_live/start",
        lambda: client.start_live(start),
        start.model_dump(exclude_none=True),
    )
    get = live.LiveGetRequest(room_id=ROOM_ID)
    await _step(
        "LiveGet /room/mix_live/get",
        lambda: client.live_get(get),
        get.model_dump(exclude_none=True),
    )
    stop = live.StopLiveRequest(room_id=ROOM_ID)
    await _step(
        "StopLive /room/mix_live/stop",
        lambda: client.stop_live(stop),
        stop.model_dump(exclude_none=True),
    )
    now = int(time.time())
    stats = room.RoomStatisticGetRequest(start_time=now - 3600, end_time=now, room_id=ROOM_ID)
    await _step(
        "RoomStatisticGet /room/get_statistic",
        lambda: client.room_statistic_get(stats),
        stats.model_dump(exclude_none=True),
    )
    close = room.RoomCloseRequest(room_id=ROOM_ID)
    await _step("RoomClose /room/close", lambda: client.room_close(close), close.model_dump())
    again = room.RoomCreateRequest(topic="Weekly sync", room_id=ROOM_ID)
    print("\n-> RoomCreate again with the same room_id (the vendor is not idempotent)")
    try:
        await client.room_create(again)
    except VendorError as exc:
        print(f"<- {type(exc).__name__}: {exc} (retryable={exc.retryable})")


async def run_demo(vendor_url: str | None = None) -> int:
    """Run the walk-through; returns the process exit code."""
    async with AsyncExitStack() as stack:
        if vendor_url is None:
            vendor_url = await stack.enter_async_context(embedded_simulator())
            print(f"simulator started at {vendor_url}")
        client = build_vendor_client(VendorSettings(base_url=vendor_url))
        stack.push_async_callback(client.aclose)
        sim = await stack.enter_async_context(httpx.AsyncClient(base_url=vendor_url))
        try:
            await _walk(client, sim)
        except VendorError as exc:
            print(f"\nunexpected vendor error: {type(exc).__name__}: {exc}")
            return 1
        print(f"\ndone: {client.tokens.fetches} token fetch(es); the token was never printed.")
    return 0
