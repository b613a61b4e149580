"""The README's "From nothing to a first result" runs as written: its shell block, taken from
the README text, in bash from the repository's folder against the real Kafka and a simulator it
starts itself. Only the broker's address comes from the test environment (the block leaves it
at its default, so a test broker elsewhere is passed as GATEWAY_KAFKA__BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- quickstart:start -->\n```sh\n(.*?)```\n<!-- quickstart:end -->", re.S)
SIMULATOR_PORT = 9610  # the block's


def quickstart_block() -> str:
    found = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no quickstart block between its markers"
    return found.group(1)


def test_the_block_is_the_one_this_test_expects() -> None:
    block = quickstart_block()
    for step in ("gateway simulator", "gateway topics ensure", "gateway run", "gateway send"):
        assert step in block, step
    assert "gateway events" in block
    assert "/_sim/rooms/12345123456/participants" in block  # someone joins: the event's cause


@pytest.mark.timeout(300)
def test_readme_quickstart_runs_as_written(kafka_bootstrap: str) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", SIMULATOR_PORT)) == 0:
            pytest.fail(f"port {SIMULATOR_PORT} is taken: the quickstart's simulator needs it")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST_")
    }
    env["GATEWAY_KAFKA__BOOTSTRAP_SERVERS"] = kafka_bootstrap
    # The block, stopped early on the first failing line; its background jobs killed whatever
    # happens (the block's own last line kills them on success).
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    script += quickstart_block()
    done = subprocess.run(  # noqa: S603 (bash with the README's own lines)
        ["/bin/bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    result, event = _json_documents(done.stdout)
    assert result["type"] == "avd.command.succeeded", result
    assert result["data"]["result"]["room_id"] == "12345123456"
    assert event["type"] == "avd.participant.joined", event
    assert event["subject"] == "rooms/12345123456/participants/alice"
    assert event["specversion"] == "1.0"


def _json_documents(text: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """The result (pretty-printed by `send`) and the event (one line from `events`)."""
    decoder = json.JSONDecoder()
    documents, at = [], 0
    while at < len(text):
        start = text.find("{", at)
        if start < 0:
            break
        document, at = decoder.raw_decode(text, start)
        documents.append(document)
    assert len(documents) == 2, f"expected a result and an event on stdout, got:\n{text}"
    return documents[0], documents[1]
