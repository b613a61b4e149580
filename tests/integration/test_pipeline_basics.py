"""The command loop end to end: Kafka -> gateway -> simulator -> result events (and DLQ)."""

from __future__ import annotations

import json

import httpx

from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_records,
    read_results,
    running_gateway,
)


async def test_room_create_round_trip_duplicate_and_conflict(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Same key twice: one vendor call, the second result replayed; other payload: rejected."""
    topics = await make_topics(kafka_bootstrap, "basics")
    first = envelope(
        "RoomCreate", {"topic": "Weekly", "room_id": "70000000001"}, idempotency_key="crm-1"
    )
    again = envelope(
        "RoomCreate", {"topic": "Weekly", "room_id": "70000000001"}, idempotency_key="crm-1"
    )
    other = envelope(
        "RoomCreate", {"topic": "Other", "room_id": "70000000001"}, idempotency_key="crm-1"
    )
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics)
    async with running_gateway(settings):
        await produce(
            kafka_bootstrap, topics.commands, [(b"70000000001", e) for e in (first, again, other)]
        )
        results = await read_results(kafka_bootstrap, topics.results, 3)
    by_id = {r["data"]["command_id"]: r for r in results}
    assert len(results) == 3
    assert by_id[first["id"]]["type"] == "avd.command.succeeded"
    assert by_id[first["id"]]["data"]["result"] == {"room_id": "70000000001"}
    assert by_id[first["id"]]["data"]["replayed"] is False
    assert by_id[again["id"]]["data"]["status"] == "succeeded"
    assert by_id[again["id"]]["data"]["replayed"] is True
    assert by_id[other["id"]]["type"] == "avd.command.rejected"
    assert by_id[other["id"]]["data"]["error"]["error_class"] == "IdempotencyKeyReused"
    calls = (await sim.get("/_sim/calls")).json()["calls"]
    assert calls.get("/room/create") == 1


async def test_bad_input_goes_to_dlq_or_rejected_and_next_command_runs(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Garbage and id-less JSON go to the DLQ; unknown type and bad payload are rejected."""
    topics = await make_topics(kafka_bootstrap, "badinput", partitions=1)
    unknown = envelope("RoomExplode", {"room_id": "1"})
    bad_payload = envelope("InviteDevice", {"room_id": 5, "uri": None, "extra": 1})
    no_payload = {"id": "no-payload-1", "type": "RoomRead"}
    valid = envelope("RoomList", {})
    records: list[tuple[bytes | None, bytes | dict[str, object]]] = [
        (b"k", b"\x00\xffnot json"),
        (b"k", {"type": "RoomList", "payload": {}}),
        (b"k", unknown),
        (b"k", bad_payload),
        (b"k", no_payload),
        (b"k", valid),
    ]
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        await produce(kafka_bootstrap, topics.commands, records)
        results = await read_results(kafka_bootstrap, topics.results, 4)
        dead = await read_records(kafka_bootstrap, topics.dlq, 2)
    by_id = {r["data"]["command_id"]: r["data"] for r in results}
    assert len(results) == 4
    assert by_id[unknown["id"]]["error"]["error_class"] == "UnknownCommandType"
    fields = {f["field"] for f in by_id[bad_payload["id"]]["error"]["fields"]}
    assert {"payload.uri", "payload.extra"} <= fields
    assert by_id["no-payload-1"]["error"]["error_class"] == "InvalidEnvelope"
    assert by_id[valid["id"]]["status"] == "succeeded"
    assert [d.value for d in dead] == [
        b"\x00\xffnot json",
        json.dumps({"type": "RoomList", "payload": {}}).encode(),
    ]
    headers = dict(dead[0].headers)
    assert headers["dlq-reason"] == b"value is not JSON"
    assert headers["dlq-source-topic"] == topics.commands.encode()
    assert headers["dlq-source-offset"] == b"0"
    calls = (await sim.get("/_sim/calls")).json()["calls"]
    assert calls == {"/app/get_token": 1, "/room/list": 1}


async def test_cloudevents_binary_and_structured_commands(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Commands as binary-mode and structured CloudEvents work, and traceparent is carried."""
    topics = await make_topics(kafka_bootstrap, "cloudevents", partitions=1)
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    structured = {
        "specversion": "1.0",
        "id": "ce-structured-1",
        "source": "/crm",
        "type": "RoomCreate",
        "datacontenttype": "application/json",
        "data": {"topic": "CE", "room_id": "70000000002"},
    }
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        await produce(
            kafka_bootstrap,
            topics.commands,
            [(b"70000000002", structured)],
            headers=[("traceparent", trace.encode())],
        )
        await produce(
            kafka_bootstrap,
            topics.commands,
            [(b"70000000002", json.dumps({"room_id": "70000000002"}).encode())],
            headers=[
                ("ce_specversion", b"1.0"),
                ("ce_id", b"ce-binary-1"),
                ("ce_source", b"/crm"),
                ("ce_type", b"RoomRead"),
                ("content-type", b"application/json"),
            ],
        )
        results = await read_results(kafka_bootstrap, topics.results, 2)
    by_id = {r["data"]["command_id"]: r for r in results}
    assert by_id["ce-structured-1"]["data"]["status"] == "succeeded"
    # The command's trace goes on: unchanged without tracing, under a span of ours with it
    # (when an earlier test in this process installed a span processor).
    carried = by_id["ce-structured-1"]["traceparent"].split("-")
    assert carried[1] == trace.split("-")[1]
    assert by_id["ce-binary-1"]["data"]["status"] == "succeeded"
    assert by_id["ce-binary-1"]["data"]["endpoint"] == "/room/read"
    reads = (await sim.get("/_sim/requests", params={"path": "/room/read"})).json()["entries"]
    assert [e["params"]["room_id"] for e in reads] == ["70000000002"]


async def test_garbage_trace_headers_get_a_result_without_them(
    kafka_bootstrap: str, simulator_url: str
) -> None:
    """A command whose traceparent/tracestate headers are garbage is answered (rejected, for
    its unknown type) at once, without the garbage, whether tracing is on or off."""
    topics = await make_topics(kafka_bootstrap, "trace-garbage")
    command = envelope("NoSuchCommand", {})
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        await produce(
            kafka_bootstrap,
            topics.commands,
            [(b"k", command)],
            headers=[("traceparent", b"\xff\xfe 00-zz"), ("tracestate", b"\x00\x01")],
        )
        (result,) = await read_results(kafka_bootstrap, topics.results, 1)
    assert result["data"]["command_id"] == command["id"]
    assert result["data"]["status"] == "rejected"
    assert "\ufffd" not in result.get("traceparent", "")
