"""Key-ordered concurrency: one record at a time per key, many keys at once, a global bound.

Each key has a queue and at most one runner task; runners take a slot from a semaphore shared
by all keys (``max_in_flight``) for each record. A slow or retrying key therefore delays only
its own later records, never other keys'.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["KeyedScheduler"]

R = TypeVar("R")


class KeyedScheduler(Generic[R]):
    """Runs ``work(record)`` per key in arrival order, different keys concurrently."""

    def __init__(self, work: Callable[[R], Awaitable[None]], max_in_flight: int) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(max_in_flight)
        self._queues: dict[Hashable, deque[R]] = {}
        self._runners: dict[Hashable, asyncio.Task[None]] = {}
        self.in_flight = 0

    def submit(self, key: Hashable, record: R) -> None:
        """Queue ``record`` behind earlier records of ``key``."""
        self._queues.setdefault(key, deque()).append(record)
        if key not in self._runners:
            self._runners[key] = asyncio.create_task(self._run(key), name=f"key-runner:{key!r}")

    async def _run(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                record = queue[0]
                async with self._slots:
                    self.in_flight += 1
                    try:
                        await self._work(record)
                    finally:
                        self.in_flight -= 1
                queue.popleft()
        finally:
            self._runners.pop(key, None)
            if not queue:
                self._queues.pop(key, None)

    def keys(self) -> list[Hashable]:
        """Keys with queued or running work."""
        return list(self._queues)

    def drop_queued(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget records of matching keys that have not started (the running one stays)."""
        for key, queue in self._queues.items():
            if predicate(key):
                while len(queue) > 1:
                    queue.pop()

    async def wait(self, predicate: Callable[[Hashable], bool]) -> None:
        """Wait until matching keys have no runner."""
        tasks = [t for k, t in list(self._runners.items()) if predicate(k)]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel(self, predicate: Callable[[Hashable], bool]) -> None:
        """Abandon the work of matching keys (their records stay uncommitted)."""
        keys = [k for k in list(self._runners) if predicate(k)]
        tasks = [self._runners[k] for k in keys]
        for key in [k for k in list(self._queues) if predicate(k)]:
            self._queues[key].clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A runner cancelled before it ever ran never reaches its own clean-up.
        for key in keys:
            if self._runners.get(key) in tasks:
                del self._runners[key]
            if not self._queues.get(key, True):
                self._queues.pop(key, None)

    async def idle(self) -> None:
        """Wait until every queued record is done."""
        while self._runners:
            await asyncio.gather(*list(self._runners.values()), return_exceptions=True)
            for key, task in list(self._runners.items()):
                if task.done():  # finished without its own clean-up (cancelled early)
                    del self._runners[key]
