"""What the ingress knows about commands: the results seen on the results topic, and waiters.

One board per process, fed by one results reader (:mod:`gateway.webhooks.follower`) that
reads every result event of the topic; a ``?wait`` request registers a waiter *before* its
command is produced, so however fast the result comes, it is not missed. The board keeps the
``capacity`` most recently touched commands (LRU): ``accepted`` for those this replica put on
Kafka and has no result for yet, and the result event for every result it has read.

Nothing here survives a restart. On start the reader also reads back the most recent results
of each partition (up to the capacity, spread over the partitions), so recent results are
known again; commands accepted before the restart whose result has not arrived since are
unknown (404) until it does. Another replica knows a command as ``accepted`` only once its
result appears on the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CommandStatus", "ResultBoard"]

Status = Literal["accepted", "succeeded", "failed", "rejected"]


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """One command's status, and its result event once there is one."""

    id: str
    status: Status
    result: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The body of ``GET /v1/commands/{id}``."""
        return {"id": self.id, "status": self.status, "result": self.result}


class ResultBoard:
    """A bounded index of command statuses by id, and the futures of waiting requests."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._known: OrderedDict[str, CommandStatus] = OrderedDict()
        self._waiters: dict[str, set[asyncio.Future[dict[str, Any]]]] = {}
        self.results_seen = 0

    def __len__(self) -> int:
        return len(self._known)

    def _put(self, status: CommandStatus) -> None:
        self._known[status.id] = status
        self._known.move_to_end(status.id)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)

    def accepted(self, command_id: str) -> None:
        """This replica put the command on Kafka (a result already seen is kept)."""
        known = self._known.get(command_id)
        if known is None or known.result is None:
            self._put(CommandStatus(command_id, "accepted"))

    def record(self, event: dict[str, Any]) -> bool:
        """Take one result event off the topic; False if it carries no command id."""
        data = event.get("data")
        if not isinstance(data, dict):
            return False
        command_id, status = data.get("command_id"), data.get("status")
        if not isinstance(command_id, str) or status not in ("succeeded", "failed", "rejected"):
            return False
        self.results_seen += 1
        self._put(CommandStatus(command_id, status, event))
        for future in self._waiters.pop(command_id, ()):
            if not future.done():
                future.set_result(event)
        return True

    def lookup(self, command_id: str) -> CommandStatus | None:
        """The status of ``command_id``, if this replica knows it."""
        return self._known.get(command_id)

    @contextlib.contextmanager
    def expect(self, command_id: str) -> Iterator[asyncio.Future[dict[str, Any]]]:
        """A future for the next result of ``command_id``; register it before producing."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(command_id, set()).add(future)
        try:
            yield future
        finally:
            waiting = self._waiters.get(command_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[command_id]
            future.cancel()  # no-op once it has a result

    @property
    def waiting(self) -> int:
        """Requests waiting for a result right now."""
        return sum(len(w) for w in self._waiters.values())
