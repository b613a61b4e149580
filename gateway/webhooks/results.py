"""What the ingress knows about commands: their results by (sender, id), and waiters.

One board per process, fed by one results reader (:mod:`gateway.webhooks.follower`) that
reads every result event of the topic. Every command the ingress publishes carries its
sender (the ``gateway-sender`` header), the commands role scopes the command's idempotency
key by it and puts it on the result event (the ``sender`` CloudEvents extension); so a result
is filed under (sender, command id) and is served only to that sender. Two senders may use
the same command id: they are two commands, with two results, and neither sees the other's.

A command is *reserved* for its sender before it is produced (so however fast its result
comes, it is kept and its waiter woken) and stays in the board, LRU-bounded by ``capacity``,
as ``accepted`` and then with its result event. Results of commands accepted by other
replicas, or before a restart (read back from the topic at start), are kept too, under their
sender; a result without a sender (a command put on Kafka directly) is never served over
HTTP. ``?wait`` waiters are capped (``max_waiters``); :meth:`ResultBoard.may_wait` says
whether one more may wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CommandStatus", "ResultBoard"]

Status = Literal["accepted", "succeeded", "failed", "rejected"]

#: (sender, command id): whose command, and which.
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """One command's status, and its result event once there is one."""

    id: str
    status: Status
    result: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The body of ``GET /v1/commands/{id}``."""
        return {"id": self.id, "status": self.status, "result": self.result}


@dataclass(slots=True)
class _Entry:
    status: CommandStatus
    waiters: set[asyncio.Future[dict[str, Any]]] = field(default_factory=set)


class ResultBoard:
    """A bounded index of commands by (sender, id), and their waiters."""

    def __init__(self, capacity: int, max_waiters: int) -> None:
        self._capacity = capacity
        self._max_waiters = max_waiters
        self._known: OrderedDict[Key, _Entry] = OrderedDict()
        # Entries with waiters are never evicted, so they live here as well as in _known.
        self._waiting: dict[Key, _Entry] = {}
        self._waiter_count = 0
        self.results_seen = 0

    def __len__(self) -> int:
        return len(self._known)

    def _entry(self, key: Key) -> _Entry | None:
        return self._known.get(key) or self._waiting.get(key)

    def _touch(self, key: Key, entry: _Entry) -> None:
        self._known[key] = entry
        self._known.move_to_end(key)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)

    def reserve(self, sender: str, command_id: str) -> None:
        """Take ``sender``'s ``command_id`` before producing it (a resend keeps its result)."""
        key = (sender, command_id)
        self._touch(key, self._entry(key) or _Entry(CommandStatus(command_id, "accepted")))

    def release(self, sender: str, command_id: str) -> None:
        """Undo a :meth:`reserve` whose command did not reach Kafka (and has no result)."""
        key = (sender, command_id)
        entry = self._known.get(key)
        if entry is not None and entry.status.result is None and not entry.waiters:
            del self._known[key]

    def record(self, event: dict[str, Any]) -> bool:
        """Take one result event off the topic; True if it names a sender (and is kept)."""
        data = event.get("data")
        if not isinstance(data, dict):
            return False
        command_id, status = data.get("command_id"), data.get("status")
        if not isinstance(command_id, str) or status not in ("succeeded", "failed", "rejected"):
            return False
        self.results_seen += 1
        sender = event.get("sender")
        if not isinstance(sender, str) or not sender:
            return False  # not from the ingress: nobody may read it over HTTP
        key = (sender, command_id)
        entry = self._entry(key) or _Entry(CommandStatus(command_id, status))
        entry.status = CommandStatus(command_id, status, event)
        self._touch(key, entry)
        for future in entry.waiters:
            if not future.done():
                future.set_result(event)
        return True

    def lookup(self, sender: str, command_id: str) -> CommandStatus | None:
        """The status of ``sender``'s ``command_id``, if this replica knows it."""
        entry = self._entry((sender, command_id))
        return None if entry is None else entry.status

    def may_wait(self) -> bool:
        """Whether one more request may wait for a result (below ``max_waiters``)."""
        return self._waiter_count < self._max_waiters

    @contextlib.contextmanager
    def expect(self, sender: str, command_id: str) -> Iterator[asyncio.Future[dict[str, Any]]]:
        """A future for the next result of ``sender``'s ``command_id``; :meth:`reserve` first,
        and enter this before producing."""
        key = (sender, command_id)
        entry = self._entry(key)
        if entry is None:
            raise KeyError("reserve the command id for this sender first")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        entry.waiters.add(future)
        self._waiting[key] = entry
        self._waiter_count += 1
        try:
            yield future
        finally:
            self._waiter_count -= 1
            entry.waiters.discard(future)
            if not entry.waiters:
                self._waiting.pop(key, None)
            future.cancel()  # no-op once it has a result

    @property
    def waiting(self) -> int:
        """Requests waiting for a result right now."""
        return self._waiter_count
