"""The demo's steps: commands on Kafka, people joining and leaving at the vendor (the
simulator's scenario API), and one signed command over HTTP; each step waits for what it
should bring back and fails the demo, with one line saying what is missing, if it does not.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from gateway.app.demo.output import DemoError, Event, Follower, Timeline, clip, describe_result
from gateway.app.demo.roles import SENDER, DemoRoles
from gateway.client.record import build_envelope
from gateway.webhooks.signature import signed_headers

__all__ = ["Story", "tell"]

STEP_S = 15.0  # longest wait for one step's answer
START_S = 30.0  # longest wait for the roles to start (consumer groups, first poll)


@dataclass
class Story:
    """What the steps need: where to print, what to send with, what to wait on."""

    timeline: Timeline
    follower: Follower
    roles: DemoRoles
    producer: AIOKafkaProducer
    commands_topic: str
    sim: httpx.AsyncClient  # the simulator's scenario API
    webhooks: httpx.AsyncClient  # the webhooks role
    secret: str
    room_id: str

    async def wait(self, ready: Callable[[], Any], what: str, within: float | None = None) -> Any:
        """``ready()``'s first true value; :class:`DemoError` after ``within`` seconds (default
        :data:`STEP_S`), or when the demo's time is up, or a role stopped."""
        within = min(STEP_S if within is None else within, self.timeline.left())
        end = self.timeline.elapsed() + within
        while not (found := await _value(ready())):
            self.roles.check()
            self.follower.check()
            if self.timeline.elapsed() > end:
                raise DemoError(f"{what} did not arrive within {max(within, 0):.0f} s")
            await asyncio.sleep(0.05)
        return found

    def result(self, command_id: str) -> Event | None:
        return next(
            (e for e in self.follower.seen["commands"] if e["data"]["command_id"] == command_id),
            None,
        )

    async def command(
        self, title: str, envelope: dict[str, Any], expect: str = "succeeded"
    ) -> dict[str, Any]:
        """Put a command on the commands topic; its result's data once it is read back."""
        key = envelope.get("idempotency_key")
        also = f" (idempotency key {key})" if key else ""
        self.timeline.line("commands", f"-> {title} {clip(envelope['payload'], 90)}{also}")
        value = json.dumps(envelope).encode()
        await self.producer.send_and_wait(self.commands_topic, value, key=self.room_id.encode())
        event = await self.wait(
            lambda: self.result(envelope["id"]), f"the result of {title} ({envelope['id']})"
        )
        _expect(f"{title}: result", str(event["type"]).rsplit(".", 1)[-1], expect)
        return dict(event["data"])

    async def scenario(
        self, what: str, method: str, path: str, body: Any = None, *, done_already: int = 0
    ) -> None:
        """Change what the vendor sees through the simulator's scenario API; an answer
        ``done_already`` (a status) means the simulator did it by itself."""
        self.timeline.line("simulator", f"~> {what} ({method} {path})")
        answer = await self.sim.request(method, path, json=body)
        if answer.status_code == done_already:
            self.timeline.line("simulator", f"<- {answer.status_code}: it had happened already")
        elif answer.is_error:
            raise DemoError(f"the simulator refused {method} {path}: {answer.status_code}")

    async def events(self, expected: list[tuple[str, str]], times: int = 1) -> None:
        """Until the poller published each (type, subject) of ``expected``, ``times`` times
        since the start."""
        for name, subject in expected:
            nth = f"{times}. " if times > 1 else ""
            await self.wait(
                functools.partial(self.published, name, subject, times),
                f"the poller's {nth}{name} event for {subject}",
            )

    def published(self, name: str, subject: str, times: int = 1) -> bool:
        """Whether the poller published ``times`` ``name`` events about ``subject``."""
        kind = "." + name
        seen = [e for e in self.follower.seen["poller"] if e["subject"] == subject]
        return sum(1 for e in seen if str(e["type"]).endswith(kind)) >= times

    async def webhook(self, envelope: dict[str, Any], wait_s: int = 10) -> None:
        """``POST /v1/commands?wait=`` signed by the demo sender; the answer must be 200."""
        body = json.dumps(envelope).encode()
        path = f"/v1/commands?wait={wait_s}"
        shown = f"{envelope['type']} {clip(envelope['payload'], 80)}"
        self.timeline.line("webhooks", f"-> POST {path} {shown} (signed by sender {SENDER!r})")
        headers = {"content-type": "application/json", **signed_headers(self.secret, body)}
        answer = await self.webhooks.post(path, content=body, headers=headers)
        text = describe_result(answer.json()) if answer.status_code == 200 else clip(answer.json())
        self.timeline.line("webhooks", f"<- {answer.status_code} {text}")
        _expect("the webhook's answer", answer.status_code, 200)


async def _value(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _expect(what: str, got: Any, wanted: Any) -> None:
    if got != wanted:
        raise DemoError(f"{what} was {got!r}, expected {wanted!r}")


async def _answers(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/healthz", timeout=0.5)).status_code == 200
    except httpx.TransportError:
        return False


async def started(story: Story) -> None:
    """The webhooks role answers; the poller holds its lease and has polled once (its first
    event is the media server's initial user count). The commands role shows with its first
    result."""
    await story.wait(lambda: _answers(story.webhooks), "the webhooks role's /healthz", START_S)
    await story.wait(lambda: story.follower.seen["poller"], "the poller's first event", START_S)


def _room_create(room: str, command_id: str) -> dict[str, Any]:
    payload = {"topic": "Weekly sync", "room_id": room}
    return build_envelope(
        "RoomCreate", payload, idempotency_key="crm-meeting-991", command_id=command_id
    )


async def alice_joins(story: Story) -> None:
    """The room opens with its first participant; the poller reports both, and statistics."""
    room = story.room_id
    alice = {"user_id": "alice", "user_name": "Alice"}
    await story.scenario("Alice joins", "POST", f"/_sim/rooms/{room}/participants", alice)
    await story.events(
        [
            ("room.opened", f"rooms/{room}"),
            ("participant.joined", f"rooms/{room}/participants/alice"),
            ("room.statistics.changed", f"rooms/{room}"),
        ]
    )


async def device_joins(story: Story) -> None:
    """InviteDevice calls a room system; it answers and joins."""
    room = story.room_id
    payload = {"room_id": room, "uri": "sip:1001@192.0.2.10", "name": "Boardroom"}
    invite = build_envelope("InviteDevice", payload, command_id="demo-2")
    call = (await story.command("InviteDevice", invite))["result"]
    await story.scenario(
        "the Boardroom device answers the call",
        "POST",
        f"/_sim/invites/{call['call_id']}",
        {"status": "answered"},
        done_already=409,  # a simulator may answer invites itself after a while
    )
    await story.events([("participant.joined", f"rooms/{room}/participants/{call['user_id']}")])
    await story.events([("room.statistics.changed", f"rooms/{room}")], times=2)


async def replayed_and_rejected(story: Story) -> None:
    """The first RoomCreate again (stored outcome, no vendor call), then an invalid command."""
    again = await story.command(
        "RoomCreate again, same idempotency key", _room_create(story.room_id, "demo-4")
    )
    _expect("the second RoomCreate's replayed", again.get("replayed"), True)
    payload = {"room_id": story.room_id, "ur1": "sip:x"}
    bad = build_envelope("InviteDevice", payload, command_id="demo-5")
    await story.command("InviteDevice, invalid (uri missing, ur1 unknown)", bad, "rejected")


async def alice_leaves(story: Story) -> None:
    room = story.room_id
    await story.scenario("Alice leaves", "DELETE", f"/_sim/rooms/{room}/participants/alice")
    await story.events([("participant.left", f"rooms/{room}/participants/alice")])


async def tell(story: Story) -> None:
    """The steps, in order."""
    room = story.room_id
    story.timeline.line("demo", "waiting for the roles to start (consumer groups, the lease)")
    await started(story)
    await story.command("RoomCreate", _room_create(room, "demo-1"))
    await alice_joins(story)
    await device_joins(story)
    live = {"room_id": room, "push_url": "rtmp://live.example.com/app/weekly"}
    await story.command("StartLive", build_envelope("StartLive", live, command_id="demo-3"))
    await replayed_and_rejected(story)
    await alice_leaves(story)
    await story.webhook(build_envelope("StopLive", {"room_id": room}, command_id="demo-6"))
    calls = (await story.sim.get("/_sim/calls")).json()["calls"]
    line = ", ".join(f"{path} {n}" for path, n in calls.items())
    story.timeline.line("simulator", f"calls: {line}")
