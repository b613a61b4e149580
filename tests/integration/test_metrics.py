"""After a scripted run, the metrics say what the simulator's log and the results say."""

from __future__ import annotations

import collections

import httpx
from prometheus_client import REGISTRY

from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)


def _samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _delta(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


async def test_counters_match_the_vendor_log_and_the_results(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Commands by type/status and vendor requests by endpoint/ret equal the ground truth."""
    (await sim.post("/_sim/rooms", json={"room_id": "77000000001"})).raise_for_status()
    (
        await sim.put("/_sim/faults", json={"error_rates": {"41003": 0.3}, "paths": ["/room/read"]})
    ).raise_for_status()
    topics = await make_topics(kafka_bootstrap, "metrics", partitions=2)
    commands = [envelope("RoomRead", {"room_id": "77000000001"}) for _ in range(20)]
    commands += [envelope("RoomRead", {"room_id": "nope"}) for _ in range(5)]
    commands += [envelope("NoSuchType", {}) for _ in range(3)]
    commands += [envelope("RoomCreate", {"topic": "m", "room_id": "77000000002"}) for _ in range(2)]
    before_cmd = _samples("gateway_commands_total")
    before_vendor = _samples("gateway_vendor_requests_total")
    async with running_gateway(gateway_settings(kafka_bootstrap, simulator_url, topics)):
        await produce(
            kafka_bootstrap, topics.commands, [(str(i).encode(), c) for i, c in enumerate(commands)]
        )
        results = await read_results(kafka_bootstrap, topics.results, len(commands), within=60)
    commands_delta = _delta(before_cmd, _samples("gateway_commands_total"))
    vendor_delta = _delta(before_vendor, _samples("gateway_vendor_requests_total"))
    expected_cmd = collections.Counter(
        (
            ("status", r["data"]["status"]),
            (
                "type",
                r["data"]["command_type"]
                if r["data"]["command_type"] != "NoSuchType"
                else "unknown",
            ),
        )
        for r in results
    )
    assert commands_delta == {k: float(v) for k, v in expected_cmd.items()}
    log = (await sim.get("/_sim/requests", params={"limit": 5000})).json()["entries"]
    expected_vendor = collections.Counter(
        (("endpoint", e["path"]), ("ret", str(e["ret"]))) for e in log
    )
    assert vendor_delta == {k: float(v) for k, v in expected_vendor.items()}
