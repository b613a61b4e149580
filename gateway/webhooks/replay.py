"""Replay protection: a webhook-id is accepted once while its timestamp is within tolerance.

A message stays acceptable until ``timestamp + tolerance``; its id is remembered exactly that
long (the caller computes the time to live), so the store never grows past the ids of one
window. Two stores: in this process (one replica), and Redis ``SET NX PX`` (replicas share
it, so a replay to another replica is refused too). An id is claimed only after its signature
held and its envelope parsed; a claim is released when the command could not be put on
Kafka, so the sender's retry with the same id (Standard Webhooks resends keep the id) gets
through.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.webhooks.errors import UnavailableError

__all__ = ["InProcessReplayGuard", "RedisReplayGuard", "ReplayGuard"]


class ReplayGuard(Protocol):
    """Where seen webhook-ids are kept."""

    async def claim(self, msg_id: str, ttl_s: float) -> bool:
        """Remember ``msg_id`` for ``ttl_s``; False if it is remembered already."""

    async def release(self, msg_id: str) -> None:
        """Forget ``msg_id`` (its command did not reach Kafka)."""


class InProcessReplayGuard:
    """Seen ids in a dict, expired ones dropped as time passes (a heap orders the expiries)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, msg_id = heapq.heappop(self._heap)
            if self._expiry.get(msg_id) == expires:
                del self._expiry[msg_id]

    async def claim(self, msg_id: str, ttl_s: float) -> bool:
        """Remember ``msg_id`` for ``ttl_s``; False if it is remembered already."""
        now = self._clock()
        self._purge(now)
        if msg_id in self._expiry:
            return False
        expires = now + ttl_s
        self._expiry[msg_id] = expires
        heapq.heappush(self._heap, (expires, msg_id))
        return True

    async def release(self, msg_id: str) -> None:
        """Forget ``msg_id`` (its heap entry lapses on its own)."""
        self._expiry.pop(msg_id, None)


class RedisReplayGuard:
    """Seen ids as Redis keys with a time to live, shared by every replica."""

    def __init__(self, redis: Redis, prefix: str = "gateway:webhook-id:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def claim(self, msg_id: str, ttl_s: float) -> bool:
        """``SET key 1 NX PX ttl``: atomic across replicas."""
        try:
            created = await self._redis.set(
                self._prefix + msg_id, b"1", nx=True, px=max(1, int(ttl_s * 1000))
            )
        except RedisError:
            raise UnavailableError("the replay store (Redis) did not answer") from None
        return bool(created)

    async def release(self, msg_id: str) -> None:
        """Delete the key; if Redis is down too, the id lapses with its time to live."""
        with contextlib.suppress(RedisError):
            await self._redis.delete(self._prefix + msg_id)
