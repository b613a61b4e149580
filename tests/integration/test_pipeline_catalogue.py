"""Every command type of the catalogue round-trips through Kafka, the gateway and the simulator."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from gateway.vendor_api import BY_COMMAND
from gateway.vendor_api.endpoint import to_form
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)

ROOM = "71000000001"

# Values that make sense to the simulator where a generic value would not.
OVERRIDES: dict[str, Any] = {
    "room_id": ROOM,
    "uri": "sip:1001@192.0.2.10",
    "url": "https://media.example.com/clip.mp4",
    "push_url": "rtmp://live.example.com/app/s1",
    "recv_audio_codec": "PCMU",
    "send_audio_codec": "PCMU",
    "status": "1",
    "user_id": "u-alice",
}


def sample_payload(command_type: str) -> dict[str, Any]:
    """A payload with every required parameter of the command's endpoint."""
    if command_type == "FileUpload":
        return {
            "filename": "logo.png",
            "content_base64": base64.b64encode(b"\x89PNG fake").decode(),
        }
    model = BY_COMMAND[command_type].request_model
    payload: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not field.is_required() and name != "room_id":
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        vendor_type = extra.get("x-vendor-type")
        if name in OVERRIDES:
            payload[name] = OVERRIDES[name]
        elif vendor_type == "int":
            payload[name] = 1
        elif vendor_type == "bool":
            payload[name] = True
        elif vendor_type == "json-string":
            payload[name] = [{"user_id": "u-alice"}]
        else:
            payload[name] = f"{name}-1"
    if command_type == "RoomStatisticGet":
        payload.update(start_time=0, end_time=2_000_000_000)
    return payload


async def test_every_command_type_round_trips(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """71 command types: each reaches the simulator with its parameters and gets a vendor answer."""
    (await sim.post("/_sim/rooms", json={"room_id": ROOM, "topic": "catalogue"})).raise_for_status()
    (
        await sim.post(f"/_sim/rooms/{ROOM}/participants", json={"user_id": "u-alice"})
    ).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "catalogue", partitions=4)
    commands = {t: envelope(t, sample_payload(t)) for t in BY_COMMAND}
    assert len(commands) == 71
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        await produce(
            kafka_bootstrap, topics.commands, [(t.encode(), e) for t, e in commands.items()]
        )
        results = await read_results(kafka_bootstrap, topics.results, len(commands), within=60)
    by_type = {r["data"]["command_type"]: r["data"] for r in results}
    assert sorted(by_type) == sorted(commands)
    assert len(results) == len(commands)
    log = (await sim.get("/_sim/requests", params={"limit": 5000})).json()["entries"]
    for command_type, data in by_type.items():
        endpoint = BY_COMMAND[command_type]
        assert data["endpoint"] == endpoint.path
        assert data["status"] in ("succeeded", "failed"), (command_type, data["error"])
        if data["status"] == "failed":
            assert data["vendor"]["ret"] not in (0, 40002, 40003), (command_type, data)
        seen = [e for e in log if e["path"] == endpoint.path]
        assert seen, f"{command_type}: the simulator saw no {endpoint.path}"
        if command_type != "FileUpload":
            params, _ = to_form(
                endpoint.request_model.model_validate(commands[command_type]["payload"])
            )
            assert any(
                all(e["params"].get(k) in (v, "***") for k, v in params.items()) for e in seen
            ), (command_type, params, [e["params"] for e in seen])
