"""`gateway demo` runs all three roles against real Kafka and the simulator and says, line by
line and role by role, what was sent and what came back."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.app.demo import run_demo, story

# "  4.2s [commands]  <- succeeded RoomCreate (...)"
LINE = re.compile(r"\s*(\d+\.\d)s \[(\w+)\]\s+(.*)")
POLLER_EVENTS = ("room.opened", "participant.joined", "room.statistics.changed", "participant.left")


def _steps(out: str) -> list[tuple[float, str, str]]:
    """(seconds, role, text) of each timeline line."""
    found = (LINE.fullmatch(line) for line in out.splitlines())
    return [(float(m[1]), m[2], m[3]) for m in found if m]


def _said(steps: list[tuple[float, str, str]], role: str) -> list[str]:
    return [text for _, who, text in steps if who == role]


async def test_demo_shows_every_role(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results from the commands role (one replayed, one rejected), each of the poller's four
    event types, the webhook's answered result; in time order, within a minute."""
    assert await run_demo(None, kafka_bootstrap) == 0
    out = capsys.readouterr().out
    steps = _steps(out)
    assert [t for t, _, _ in steps] == sorted(t for t, _, _ in steps), "not in time order"

    results = [t for t in _said(steps, "commands") if t.startswith("<- ")]
    for outcome in ("RoomCreate", "InviteDevice", "StartLive"):
        assert any(t.startswith(f"<- succeeded {outcome} (") for t in results), outcome
    assert any(t.startswith("<- succeeded RoomCreate (") and "replayed" in t for t in results)
    assert any(t.startswith("<- rejected InviteDevice (") for t in results)
    assert "/room/create 1," in out, "the replayed RoomCreate called the vendor"

    poller = _said(steps, "poller")
    for name in POLLER_EVENTS:
        assert any(t.startswith(f"<- {name} rooms/") for t in poller), name

    webhooks = _said(steps, "webhooks")
    assert webhooks[0].startswith("-> POST /v1/commands?wait=10 StopLive ")
    assert webhooks[-1].startswith("<- 200 succeeded StopLive ("), webhooks
    assert any("from webhook sender 'demo'" in t for t in results), "not through the commands role"

    assert "whsec_" not in out  # the run's signing secret is never shown
    done = re.fullmatch(r"demo done in (\d+\.\d) s", out.splitlines()[-1])
    assert done is not None
    assert float(done[1]) < 60


async def test_demo_says_which_step_did_not_arrive(
    kafka_bootstrap: str,
    simulator_url: str,
    sim: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The vendor refuses statistics: the demo stops at that step, exit 1, one line why."""
    monkeypatch.setattr(story, "STEP_S", 3.0)
    refuse = {"per_path": {"/room/get_statistic": {"error_rates": {"40002": 1.0}}}}
    (await sim.put("/_sim/faults", json=refuse)).raise_for_status()
    try:
        assert await run_demo(simulator_url, kafka_bootstrap) == 1
    finally:
        (await sim.delete("/_sim/faults")).raise_for_status()
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(
        r"demo failed after \d+\.\d s: the poller's room\.statistics\.changed event for"
        r" rooms/\d{11} did not arrive within 3 s",
        last,
    ), last
