"""What the demo prints: one line per step, in time order, with the role it came from.

``  4.2s [commands]  <- succeeded RoomCreate (7 ms, 1 vendor attempt) {"room_id": "..."}``

:class:`Timeline` prints; :class:`Follower` reads the demo's results and events topics in the
background, prints each record as it arrives and keeps it, so a step can wait for what it
expects; the ``describe_*`` functions make one compact line of a result or change event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway.app.kafka import make_consumer
from gateway.errors import GatewayError
from gateway.settings import KafkaSettings

__all__ = [
    "DemoError",
    "Follower",
    "Timeline",
    "clip",
    "describe_event",
    "describe_result",
]

Event = dict[str, Any]


class DemoError(GatewayError):
    """A step did not happen (in time, or as expected); the message is the one-line reason."""


def clip(value: Any, limit: int = 100) -> str:
    """Compact JSON of ``value``, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Timeline:
    """Prints ``<seconds since start> [<role>] <text>`` lines and keeps a deadline."""

    def __init__(self, budget_s: float) -> None:
        self.started = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def line(self, role: str, text: str) -> None:
        print(f"{self.elapsed():5.1f}s {'[' + role + ']':<11} {text}", flush=True)


def describe_result(event: Mapping[str, Any]) -> str:
    """``succeeded RoomCreate (7 ms, 1 vendor attempt) {...}``, ``rejected ... InvalidPayload``."""
    data = event["data"]
    status = str(event["type"]).rsplit(".", 1)[-1]
    how = [f"{data.get('duration_ms', 0):.0f} ms"]
    attempts = data.get("attempts", 0)
    if data.get("replayed"):
        how.append("replayed: the stored outcome, no vendor call")
    elif status != "rejected":
        how.append(f"{attempts} vendor attempt{'s' if attempts != 1 else ''}")
    if event.get("sender"):
        how.append(f"from webhook sender {event['sender']!r}")
    text = f"{status} {data.get('command_type')} ({', '.join(how)})"
    error = data.get("error")
    if error:
        fields = "; ".join(f"{f['field']}: {f['reason']}" for f in error.get("fields") or [])
        return f"{text} {error.get('error_class')}: {error.get('message')}" + (
            f" [{fields}]" if fields else ""
        )
    return f"{text} {clip(data.get('result'), 70)}"


def describe_event(event: Mapping[str, Any]) -> str:
    """``participant.joined rooms/R/participants/alice {...}``: what changed, compactly."""
    data = event["data"]
    name = str(event["type"]).split(".", 1)[-1]
    before, after, changed = data.get("before"), data.get("after"), data.get("changed")
    if changed and before and after:
        what = ", ".join(f"{k} {before.get(k)} -> {after.get(k)}" for k in changed)
    elif after is not None:
        what = clip(_brief(after, str(event["subject"])), 70)
    else:
        what = f"reason: {data.get('reason')}"
    initial = " (initial)" if data.get("initial") else ""
    return f"{name} {event['subject']}{initial} {what}"


def _brief(value: Any, subject: str) -> Any:
    """A dict without the ids its subject names and without zero, empty and nested values
    (stream lists, unused counters)."""
    if not isinstance(value, dict):
        return value
    kept = {
        k: v
        for k, v in value.items()
        if not isinstance(v, list | dict)
        and v not in (0, "", None)
        and not (isinstance(v, str) and subject.endswith(f"/{v}"))
    }
    return kept or value


class Follower:
    """Reads topics (read_committed, from the start) until stopped; prints and keeps each
    record's JSON under its topic's role name."""

    def __init__(
        self,
        kafka: KafkaSettings,
        timeline: Timeline,
        roles: Mapping[str, tuple[str, Callable[[Event], str]]],
    ) -> None:
        self._timeline = timeline
        self._roles = dict(roles)  # topic -> (role, describe)
        self._consumer = make_consumer(kafka, client_id="demo-follower", group_id=None)
        self.seen: dict[str, list[Event]] = {role: [] for role, _ in roles.values()}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer.subscribe(list(self._roles))
        await self._consumer.start()
        self._task = asyncio.create_task(self._follow(), name="demo-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    def check(self) -> None:
        """Raise if reading has stopped."""
        if self._task is not None and self._task.done():
            problem = "cancelled" if self._task.cancelled() else repr(self._task.exception())
            raise DemoError(f"reading the topics stopped ({problem})")

    async def _follow(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            records = sorted(
                (r for rs in batch.values() for r in rs), key=lambda r: int(r.timestamp)
            )
            for record in records:
                role, describe = self._roles[record.topic]
                event = json.loads(record.value)
                self.seen[role].append(event)
                self._timeline.line(role, "<- " + describe(event))
