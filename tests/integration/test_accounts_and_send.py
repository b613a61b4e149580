"""Several vendor accounts, and `gateway send --wait` against a running gateway."""

from __future__ import annotations

import httpx

from gateway.app.send import build_envelope, send_command
from gateway.settings import VendorSettings
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)


async def test_commands_go_to_their_account(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """`account` picks credentials per command; an unknown account is rejected."""
    topics = await make_topics(kafka_bootstrap, "accounts", partitions=1)
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    wrong_keys = VendorSettings(base_url=simulator_url, access_key="nobody", secret_key="nothing")  # type: ignore[arg-type]
    settings = settings.model_copy(
        update={"accounts": {"east": settings.vendor, "broken": wrong_keys}}
    )
    commands = [
        envelope("RoomList", {}, account="east"),
        envelope("RoomList", {}, account="broken"),
        envelope("RoomList", {}, account="nowhere"),
    ]
    async with running_gateway(settings):
        await produce(kafka_bootstrap, topics.commands, [(b"k", c) for c in commands])
        results = {
            r["data"]["command_id"]: r["data"]
            for r in await read_results(kafka_bootstrap, topics.results, 3)
        }
    assert results[commands[0]["id"]]["status"] == "succeeded"
    assert results[commands[1]["id"]]["error"]["code"] == 40001  # that account's own keys
    assert results[commands[2]["id"]]["error"]["error_class"] == "UnknownAccount"


async def test_send_waits_for_and_returns_the_result_event(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """`gateway send ... --wait` prints the result CloudEvent of its own command."""
    topics = await make_topics(kafka_bootstrap, "send", partitions=2)
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    command = build_envelope(
        "RoomCreate", {"topic": "CLI", "room_id": "79000000001"}, idempotency_key="cli-1"
    )
    async with running_gateway(settings):
        event = await send_command(settings, command, key=None, wait_s=30)
    assert event is not None
    assert event["type"] == "avd.command.succeeded"
    assert event["data"]["command_id"] == command["id"]
    assert event["data"]["idempotency_key"] == "cli-1"
