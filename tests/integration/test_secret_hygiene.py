"""Secret hygiene, proven: a full run with tracing, metrics and DEBUG logs, failing vendor
calls and bad webhook signatures; no captured byte carries a token, key or password. That
includes the result of a SipAccountRead (the vendor answers with the account's password):
masked on the results topic, in the ?wait answer and in GET /v1/commands/{id}."""

from __future__ import annotations

import base64
import io
import json
import logging
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from pydantic import SecretStr

from gateway.app.embedded_simulator import embedded_simulator, free_port
from gateway.settings import VendorSettings
from gateway.simulator import SimulatorSettings
from gateway.telemetry.logs import configure_logging
from gateway.vendor_api import auth
from gateway.webhooks.signature import request_content, signed_headers
from tests.integration.pipeline import envelope, make_topics, produce, read_records, running_gateway
from tests.integration.test_webhooks import running_webhooks, webhook_settings
from tests.telemetry_support import span_exporter

ACCESS_KEY = "AK-hygiene-7f3c9e"
SECRET_KEY = "SK-hygiene-0b8d21"
SIP_PASSWORD = "sip-pa55-hygiene-4471"
HOST_PASSWORD = "host-pa55-hygiene-9127"
WEBHOOK_KEY = b"hygiene-webhook-key-5aa0e1c3"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()


async def test_no_secret_in_logs_spans_metrics_dlq_or_error_bodies(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens, vendor keys, SIP/host passwords and webhook secrets appear nowhere."""
    tokens: list[str] = []
    original_get = auth.TokenProvider.get

    async def spy_get(self: auth.TokenProvider, *args: Any) -> str:
        token = await original_get(self, *args)
        tokens.append(token)
        return token

    monkeypatch.setattr(auth.TokenProvider, "get", spy_get)
    exporter = span_exporter()
    exporter.clear()
    saved_handlers, saved_level = logging.getLogger().handlers[:], logging.getLogger().level
    handler = configure_logging("DEBUG", json_lines=True)
    logs = io.StringIO()
    handler.setStream(logs)
    captured: list[str] = []
    try:
        sim_settings = SimulatorSettings(
            port=free_port(), access_key=ACCESS_KEY, secret_key=SecretStr(SECRET_KEY)
        )
        async with (
            embedded_simulator(sim_settings) as vendor_url,
            httpx.AsyncClient(base_url=vendor_url) as sim,
        ):
            (await sim.post("/_sim/rooms", json={"room_id": "78000000001"})).raise_for_status()
            topics = await make_topics(kafka_bootstrap, "hygiene", partitions=1)
            vendor = VendorSettings(
                base_url=vendor_url,
                access_key=SecretStr(ACCESS_KEY),
                secret_key=SecretStr(SECRET_KEY),
                read_timeout_s=1.0,
            )
            settings = webhook_settings(
                kafka_bootstrap, vendor_url, topics, vendor=vendor, port=free_port()
            )
            settings = settings.model_copy(
                update={
                    "webhooks": settings.webhooks.model_copy(
                        update={"secrets": [SecretStr(WEBHOOK_SECRET)]}
                    )
                }
            )
            commands: list[dict[str, Any]] = [
                envelope("SipGateCreate", {"name": "g", "url": "sip:gw@192.0.2.1"}),
                envelope(
                    "SipAccountCreate", {"sip_gate_id": 1, "name": "acct", "password": SIP_PASSWORD}
                ),
                envelope(
                    "SipAccountCreate",
                    {"sip_gate_id": 999, "name": "acct", "password": SIP_PASSWORD},
                ),
                envelope("RoomUpdate", {"room_id": "78000000001", "host_password": HOST_PASSWORD}),
                envelope("RoomUpdate", {"room_id": "no-such-room", "password": HOST_PASSWORD}),
                envelope("LiveGet", {"room_id": "78000000001"}),  # GET-only: token in the URL
            ]
            async with running_gateway(settings), running_webhooks(settings) as http:
                # failing vendor calls: transient errors, a timeout, then the token refused
                faults = {"error_rates": {"41005": 0.3}, "timeout_rate": 0.1, "timeout_hang_s": 2}
                (await sim.put("/_sim/faults", json=faults)).raise_for_status()
                await produce(
                    kafka_bootstrap, topics.commands, [(b"78000000001", c) for c in commands]
                )
                await produce(kafka_bootstrap, topics.commands, [(b"x", b"not json at all")])
                (await sim.post("/_sim/tokens/expire")).raise_for_status()
                body = json.dumps(envelope("RoomList", {})).encode()
                wrong = signed_headers(
                    "whsec_" + base64.b64encode(b"wrong-key-1234567890abcdefgh").decode(), body
                )
                answers = [
                    await http.post("/v1/commands", content=body, headers=wrong),
                    await http.post(
                        "/v1/commands",
                        content=body,
                        headers={**signed_headers(WEBHOOK_SECRET, body), "webhook-timestamp": "1"},
                    ),
                    await http.post(
                        "/v1/commands",
                        content=b'{"id": 1, "password": "' + SIP_PASSWORD.encode() + b'"}',
                        headers=signed_headers(WEBHOOK_SECRET, b"x"),
                    ),
                ]
                good = signed_headers(WEBHOOK_SECRET, body)
                answers.append(await http.post("/v1/commands?wait=20", content=body, headers=good))
                answers.append(
                    await http.post("/v1/commands", content=body, headers=good)
                )  # replay
                # A SipAccountRead over the ingress, without faults: its answer has the password.
                (await sim.delete("/_sim/faults")).raise_for_status()

                async def via_http(command: dict[str, Any]) -> dict[str, Any]:
                    raw = json.dumps({**command, "key": "sip"}).encode()
                    answer = await http.post(
                        "/v1/commands?wait=20",
                        content=raw,
                        headers=signed_headers(WEBHOOK_SECRET, raw),
                    )
                    assert answer.status_code == 200, answer.text
                    event: dict[str, Any] = answer.json()
                    assert event["data"]["status"] == "succeeded", event
                    return event

                gate = await via_http(
                    envelope("SipGateCreate", {"name": "g2", "url": "sip:gw2@192.0.2.2"})
                )
                gate_id = gate["data"]["result"]["gate_id"]
                sip_commands = [
                    envelope(
                        "SipAccountCreate",
                        {"sip_gate_id": gate_id, "name": "read-me", "password": SIP_PASSWORD},
                    ),
                    envelope("SipAccountRead", {"sip_gate_id": gate_id}),
                ]
                for command in sip_commands:
                    await via_http(command)
                read_id = sip_commands[1]["id"]
                path = f"/v1/commands/{read_id}"
                status = await http.get(
                    path, headers=signed_headers(WEBHOOK_SECRET, request_content("GET", path))
                )
                assert status.status_code == 200, status.text
                (account,) = status.json()["result"]["data"]["result"]["accounts"]
                assert account["name"] == "read-me"
                assert account["password"] == "***"
                answers.append(status)
                results = [
                    r.value.decode()
                    for r in await read_records(
                        kafka_bootstrap, topics.results, len(commands) + 4, within=60
                    )
                ]
                dead = await read_records(kafka_bootstrap, topics.dlq, 1)
                # the simulator's own log (it redacts too) and the results, for good measure
                captured.append((await sim.get("/_sim/requests")).text)
        assert [a.status_code for a in answers][:3] == [401, 401, 401]
        assert answers[4].status_code == 409
        captured += [a.text for a in answers] + [json.dumps(dict(a.headers)) for a in answers]
        captured += results
        captured += [json.dumps({k: v.decode("latin-1") for k, v in d.headers}) for d in dead]
        captured.append(generate_latest().decode())
        for span in exporter.get_finished_spans():
            captured.append(span.to_json())
    finally:
        logging.getLogger().handlers[:] = saved_handlers
        logging.getLogger().setLevel(saved_level)
    captured.append(logs.getvalue())
    assert tokens, "no token was ever used: the scenario did not reach the vendor"
    assert len(logs.getvalue()) > 1000, "DEBUG logging captured too little to prove anything"
    text = "\n".join(captured)
    secrets = {
        "access key": ACCESS_KEY,
        "secret key": SECRET_KEY,
        "SIP password": SIP_PASSWORD,
        "host password": HOST_PASSWORD,
        "webhook secret": WEBHOOK_SECRET,
        "webhook key": base64.b64encode(WEBHOOK_KEY).decode(),
        **{f"token {i}": t for i, t in enumerate(set(tokens))},
    }
    leaks = {name for name, value in secrets.items() if value in text}
    assert leaks == set()
