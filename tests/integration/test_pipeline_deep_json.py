"""Deeply nested JSON on the commands topic is refused at once: a dead letter (too deep to
parse) or a rejected result (readable, over the depth limit), and the partition moves on. Before,
RecursionError was retried as an infrastructure fault for ~52 s, holding later results."""

from __future__ import annotations

import asyncio

from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_records,
    read_results,
    running_gateway,
)


async def test_deep_json_is_dead_lettered_or_rejected_at_once(
    kafka_bootstrap: str, simulator_url: str
) -> None:
    topics = await make_topics(kafka_bootstrap, "deepjson", partitions=1)
    too_deep_to_parse = b'{"id":"deep-dlq","type":"RoomList","payload":{"a":'
    too_deep_to_parse += b"[" * 20_000 + b"]" * 20_000 + b"}}"
    over_the_limit = b'{"id":"deep-rej","type":"RoomList","payload":{"a":'
    over_the_limit += b"[" * 300 + b"]" * 300 + b"}}"
    valid = envelope("RoomList", {})
    records: list[tuple[bytes | None, bytes | dict[str, object]]] = [
        (b"k", too_deep_to_parse),
        (b"k", over_the_limit),
        (b"k", valid),
    ]
    loop = asyncio.get_running_loop()
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        started = loop.time()
        await produce(kafka_bootstrap, topics.commands, records)
        # The old code took 10 tries over ~52 s for the first record alone.
        results = await read_results(kafka_bootstrap, topics.results, 2, within=15.0)
        took = loop.time() - started
        dead = await read_records(kafka_bootstrap, topics.dlq, 1, within=5.0)
    by_id = {r["data"]["command_id"]: r["data"] for r in results}
    assert set(by_id) == {"deep-rej", valid["id"]}, results
    assert took < 15.0
    assert by_id["deep-rej"]["status"] == "rejected"
    assert by_id["deep-rej"]["error"]["error_class"] == "InvalidEnvelope"
    assert by_id[valid["id"]]["status"] == "succeeded"
    assert [d.value for d in dead] == [too_deep_to_parse]
    headers = dict(dead[0].headers)
    assert headers["dlq-error-class"] == b"NotAnEnvelope"
    assert b"nested deeper" in headers["dlq-reason"]
