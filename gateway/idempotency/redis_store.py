"""Redis idempotency store, shared by replicas.

Each key is a Redis hash; ``claim``, ``renew``, ``complete`` and ``release`` are Lua scripts,
so each check-and-set is atomic on the server. Outcomes expire with ``PEXPIRE`` (retention);
in-flight claims carry their lease time, and the hash itself expires a full retention after
the lease: a command redelivered after a crash and a long outage (minutes, hours) must still
find the dead owner's claim and be reconciled, not look new and call the vendor again.
Abandoned claims are gone after lease + retention, so they do not pile up either.

A full Redis (``maxmemory`` with ``noeviction``) refuses a script's first write of a command
that may grow memory, and lets a script that has written go on (it cannot stop halfway). So
the order of the writes decides what a full store does: a *new* claim's first write is its
HSET, refused, and nothing is written (``IdempotencyStoreFullError``: the vendor is not
called); taking over an existing key deletes it first (no growth). Renewing and completing
write first what cannot grow memory (PEXPIRE, HDEL), so a command admitted before the store
filled keeps its lease and stores its outcome: a full store grows by at most one outcome per
command in flight, and never loses the outcome of a vendor call it let happen.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from gateway.idempotency.store import Claim, ClaimState, IdempotencyStoreFullError

__all__ = ["RedisIdempotencyStore"]

# KEYS[1] = key; ARGV = fingerprint, owner, lease_ms, retention_ms. Server time, so replicas'
# clocks don't matter.
_CLAIM = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local h = redis.call('HGETALL', KEYS[1])
local function take(reclaimed)
  -- Only an existing hash is deleted: a new key's first write is the HSET (module docstring).
  if #h > 0 then redis.call('DEL', KEYS[1]) end
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'in_flight', 'owner', ARGV[2],
             'lease_until', now + tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]))
  return {'claimed', reclaimed, ARGV[2]}
end
if #h == 0 then return take('0') end
local r = {}
for i = 1, #h, 2 do r[h[i]] = h[i + 1] end
if r.fp ~= ARGV[1] then return {'conflict', '0', r.owner or ''} end
if r.state == 'done' then return {'done', '0', r.owner or '', r.outcome} end
-- Our own earlier attempt (a retry after an error): it may have called the vendor.
if r.owner == ARGV[2] then return take('1') end
if tonumber(r.lease_until) > now then return {'in_flight', '0', r.owner} end
return take('1')
"""

# KEYS[1] = key; ARGV = owner, lease_ms, retention_ms
_RENEW = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'in_flight' then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]))
return 1
"""

# KEYS[1] = key; ARGV = owner, outcome json, retention_ms
_COMPLETE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'in_flight' then return 0 end
redis.call('HDEL', KEYS[1], 'lease_until')
redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

# KEYS[1] = key; ARGV = owner
_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'in_flight' then return 0 end
return redis.call('DEL', KEYS[1])
"""


class RedisIdempotencyStore:
    """Idempotency keys in Redis, safe for several gateway replicas."""

    def __init__(
        self, redis: Redis, prefix: str = "gw:idem:", retention_s: float = 86400.0
    ) -> None:
        """``retention_s``: how long an in-flight claim outlives its lease (the outcome
        retention), so that a lapsed claim is reconciled however late its command returns."""
        self._redis = redis
        self._prefix = prefix
        self._retention_ms = int(retention_s * 1000)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._complete = redis.register_script(_COMPLETE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        try:
            reply = await self._claim(
                keys=[self._key(key)],
                args=[fingerprint, owner, int(lease_s * 1000), self._retention_ms],
            )
        except OutOfMemoryError as exc:
            raise _full(exc) from exc
        state, reclaimed, holder = (_text(x) for x in reply[:3])
        if state == "done":
            return Claim(ClaimState.DONE, outcome=json.loads(_text(reply[3])), owner=holder or None)
        return Claim(ClaimState(state), reclaimed=reclaimed == "1", owner=holder or None)

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        try:
            return bool(
                await self._renew(
                    keys=[self._key(key)], args=[owner, int(lease_s * 1000), self._retention_ms]
                )
            )
        except OutOfMemoryError as exc:
            raise _full(exc) from exc

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        args: list[str | int] = [owner, json.dumps(outcome), int(retention_s * 1000)]
        try:
            return bool(await self._complete(keys=[self._key(key)], args=args))
        except OutOfMemoryError as exc:
            raise _full(exc) from exc

    async def release(self, key: str, owner: str) -> None:
        await self._release(keys=[self._key(key)], args=[owner])

    async def close(self) -> None:
        await self._redis.aclose()


def _full(exc: OutOfMemoryError) -> IdempotencyStoreFullError:
    return IdempotencyStoreFullError(
        f"idempotency store full: Redis refused the write ({exc}); nothing was written"
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
