"""The idempotency guard of a mutation: at most one vendor call per key, its outcome stored.

A mutation's key (account + idempotency key, and the webhook sender if any) is *claimed*
before the vendor is called. What the claim can find:

* nobody: ours (``Claimed``); *reclaimed* when an earlier owner's claim lapsed mid-flight,
  so the vendor may already have done the work: the handler reconciles before calling again;
* a stored outcome with the same payload: replayed; another payload: rejected;
* another owner at work: waited for (``gateway.retry.claim_wait``) until its outcome is
  stored or the command's deadline passes. Never a second call while the first may run.

While the vendor is called, the claim's lease is renewed: one keeper task renews every claim
held in this process each third of the lease, all at once (one batch in the SQLite store), not
a task per claim. The outcome is stored
(``gateway.retry.store_outcome``); if the store stays down the result is still published, and
the key is remembered as *unsettled*, so a rerun in this process reconciles instead of calling
the vendor a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.commands import results
from gateway.idempotency import Claim, ClaimState, IdempotencyStore, fingerprint, scope_key
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.masking import mask_result_data
from gateway.messages.results import ResultData
from gateway.retry import RetryPolicy, claim_wait
from gateway.vendor_api import Endpoint

__all__ = ["Claimed", "IdempotencyGuard"]

log = logging.getLogger("gateway.commands")

_UNSETTLED_MAX = 10_000


def _another_owner_at_work(claim: Claim) -> bool:
    """Neither ours nor finished: IN_FLIGHT elsewhere (or DONE without an outcome yet)."""
    if claim.state is ClaimState.DONE:
        return claim.outcome is None
    return claim.state is ClaimState.IN_FLIGHT


_CLAIM_WAIT = claim_wait(_another_owner_at_work)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A key this delivery owns: ``owner`` is written with every store call."""

    key: str
    owner: str
    reclaimed: bool  # an earlier owner's claim lapsed: the vendor may have done the work


class IdempotencyGuard:
    """Claims, heartbeats and completes idempotency keys in one store."""

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        owner: str,
        lease_s: float,
        retention_s: float,
        store_retry: RetryPolicy,
    ) -> None:
        self._store = store
        self._owner = owner
        self._lease_s = lease_s
        self._retention_s = retention_s
        self._store_retry = store_retry
        # Keys taken to the vendor whose outcome is not stored yet (LRU, bounded).
        self._unsettled: OrderedDict[str, None] = OrderedDict()
        # Claims held now (owner -> key), renewed together by one keeper task.
        self._held: dict[str, str] = {}
        self._keeper: asyncio.Task[None] | None = None

    async def claim(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any], sender: str | None
    ) -> Claimed | ResultData:
        """Own the command's key, or the result that ends the command here: a replay, a
        rejected reused key, or the deadline passed while another owner held the key."""
        key = scope_key(command.account, command.effective_idempotency_key, sender)
        fp = fingerprint(command.type, command.payload)
        owner = f"{self._owner}/{command.id}"

        claim = await self._store.claim(key, fp, owner, self._lease_s)
        if _another_owner_at_work(claim):  # rare: only then the wait's bookkeeping
            ask = functools.partial(self._store.claim, key, fp, owner, self._lease_s)
            claim = await _CLAIM_WAIT.resume(ask, claim, command.deadline_ts)
        if claim.state is ClaimState.CLAIMED:
            return Claimed(key, owner, claim.reclaimed)
        if claim.state is ClaimState.DONE and claim.outcome is not None:
            return results.replayed(command, claim.outcome)
        if claim.state is ClaimState.CONFLICT:
            return results.rejected(
                command,
                endpoint,
                "IdempotencyKeyReused",
                "the idempotency key was used with a different payload",
            )
        # Still another owner's: the wait ended at the deadline.
        return results.deadline_expired(
            command, endpoint, "while another owner held the idempotency key"
        )

    def to_vendor(self, claimed: Claimed) -> bool:
        """Note that the key goes to the vendor now; returns whether the handler must reconcile
        first: the claim was reclaimed, or this process took the key to the vendor before
        without storing the outcome (the store failed, or lost the claim in a restart)."""
        key = claimed.key
        seen = key in self._unsettled
        self._unsettled[key] = None
        self._unsettled.move_to_end(key)
        if len(self._unsettled) > _UNSETTLED_MAX:
            self._unsettled.popitem(last=False)
        return seen or claimed.reclaimed

    async def release(self, claimed: Claimed) -> None:
        """Give the key up unused (the vendor was not called): the next delivery calls anew."""
        try:
            await self._store.release(claimed.key, claimed.owner)
        except Exception as exc:  # the claim lapses on its own after its lease
            log.warning("releasing an idempotency claim failed (%s)", type(exc).__name__)

    @contextlib.asynccontextmanager
    async def heartbeat(self, claimed: Claimed) -> AsyncIterator[None]:
        """Keep the claim's lease renewed while the block runs."""
        self._held[claimed.owner] = claimed.key
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_leases(), name="idempotency-leases")
        try:
            yield
        finally:
            self._held.pop(claimed.owner, None)

    async def _keep_leases(self) -> None:
        """Every third of the lease, renew every claim held then; ends when none is held."""
        while self._held:
            await asyncio.sleep(self._lease_s / 3)
            held = list(self._held.items())
            if not held:
                return
            # All at once (the SQLite store writes them in one batch), bounded by the next
            # round: a renewal that hangs (redis-py can swallow a cancel, cpython gh-86296) is
            # left behind, not waited for.
            renewals = [
                asyncio.ensure_future(self._store.renew(key, owner, self._lease_s))
                for owner, key in held
            ]
            done, pending = await asyncio.wait(renewals, timeout=self._lease_s / 3)
            for task in pending:
                task.cancel()
            failed = [t.exception() for t in done if t.exception() is not None]
            if failed or pending:  # the next round tries again; the lease has slack
                log.warning(
                    "renewing idempotency claims: %d failed (%s), %d timed out",
                    len(failed),
                    type(failed[0]).__name__ if failed else "-",
                    len(pending),
                )

    async def aclose(self) -> None:
        """Stop the lease keeper (its claims lapse on their own)."""
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None

    async def store_outcome(
        self, command: CommandEnvelope, claimed: Claimed, result: ResultData
    ) -> None:
        """Store the outcome, retrying the store for a while; never raise after a vendor call.

        Raising here would make the consumer run the record again, and with it the vendor call.
        If the store stays down, the result is still published; the key stays unsettled so
        that a rerun in this process reconciles instead of calling again.
        """
        # Masked like the published event: the store never holds a vendor secret either.
        stored = mask_result_data(result).model_dump(
            mode="json", exclude={"duration_ms", "replayed"}
        )
        key, owner = claimed.key, claimed.owner
        failures = 0

        async def complete() -> bool:
            nonlocal failures
            try:
                return await self._store.complete(key, owner, stored, self._retention_s)
            except Exception as exc:
                failures += 1
                if failures == 1:  # once per command: the retries themselves are quiet
                    log.warning(
                        "storing the outcome of %s failed (%s: %s); trying again",
                        command.id,
                        type(exc).__name__,
                        str(exc)[:300],
                    )
                raise

        try:
            completed = await self._store_retry.run(complete)
        except Exception as exc:  # the store is down: publish anyway, never call twice
            log.error(
                "could not store the outcome of %s (%s); publishing it unstored",
                command.id,
                type(exc).__name__,
            )
            return
        self._unsettled.pop(key, None)
        if not completed:
            log.warning("idempotency claim lost before storing the outcome of %s", command.id)
