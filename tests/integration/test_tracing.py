"""One trace from the producer's traceparent through consume, rate-limit waits, every vendor
attempt and the result publish; the result event carries it on."""

from __future__ import annotations

import json
from typing import Any

import httpx
from opentelemetry.trace import SpanKind

from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)
from tests.telemetry_support import span_exporter

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


async def test_command_trace_spans_and_result_traceparent(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Caller -> process -> (rate-limit wait, vendor attempt)* -> send, in one trace."""
    exporter = span_exporter()
    exporter.clear()
    (
        await sim.put("/_sim/faults", json={"error_rates": {"41003": 1.0}, "paths": ["/room/read"]})
    ).raise_for_status()
    (await sim.post("/_sim/rooms", json={"room_id": "76000000001"})).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "tracing", partitions=1)
    command = envelope("RoomRead", {"room_id": "76000000001"})
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    settings = gateway_settings(kafka_bootstrap, simulator_url, topics, rate_per_s=1000)
    async with running_gateway(settings):
        await produce(
            kafka_bootstrap,
            topics.commands,
            [(b"76000000001", command)],
            headers=[("traceparent", traceparent.encode())],
        )
        (result,) = await read_results(kafka_bootstrap, topics.results, 1)
    spans = [
        s
        for s in exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == CALLER_TRACE
    ]
    by_name: dict[str, list] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    (process,) = by_name[f"process {topics.commands}"]
    assert process.kind is SpanKind.CONSUMER
    assert format(process.parent.span_id, "016x") == CALLER_SPAN
    attempts = by_name["POST /room/read"]
    assert len(attempts) == result["data"]["attempts"] == 6  # every attempt failed with 41003
    assert {a.attributes["vendor.ret"] for a in attempts} == {41003}
    rendered = " ".join(str(dict(s.attributes or {})) for s in spans)
    for secret in ("demo_secret", "demo_access", "token="):
        assert secret not in rendered
    assert len(by_name["ratelimit wait"]) >= len(attempts)
    (send,) = by_name[f"send {topics.results}"]
    assert send.kind is SpanKind.PRODUCER
    assert send.parent.span_id == process.context.span_id
    # the result event's traceparent is the send span, in the caller's trace
    assert result["traceparent"] == f"00-{CALLER_TRACE}-{format(send.context.span_id, '016x')}-01"


async def test_webhook_command_is_one_trace_from_http_to_result(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """HTTP server span -> send to commands -> process -> vendor attempts -> send result."""
    from gateway.app.embedded_simulator import free_port
    from gateway.webhooks.signature import signed_headers
    from tests.integration.test_webhooks import NEW_SECRET, running_webhooks, webhook_settings

    exporter = span_exporter()
    exporter.clear()
    (await sim.post("/_sim/rooms", json={"room_id": "76000000002"})).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "webtrace", partitions=1)
    settings = webhook_settings(kafka_bootstrap, simulator_url, topics, port=free_port())
    body = json.dumps(envelope("RoomRead", {"room_id": "76000000002"})).encode()
    async with running_gateway(settings), running_webhooks(settings) as http:
        answer = await http.post(
            "/v1/commands?wait=20", content=body, headers=signed_headers(NEW_SECRET, body)
        )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    trace_id = result["traceparent"].split("-")[1]
    spans = [
        s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id
    ]

    def one(name: str) -> Any:
        (span,) = [s for s in spans if s.name == name]
        return span

    server = one("POST /v1/commands")
    publish = one(f"send {topics.commands}")
    process = one(f"process {topics.commands}")
    attempt = one("POST /room/read")
    result_send = one(f"send {topics.results}")
    assert server.kind is SpanKind.SERVER
    assert publish.parent.span_id == server.context.span_id
    assert process.parent.span_id == publish.context.span_id  # across Kafka, by traceparent
    assert attempt.parent.span_id == process.context.span_id
    assert result_send.parent.span_id == process.context.span_id
    assert result["traceparent"].split("-")[2] == format(result_send.context.span_id, "016x")
