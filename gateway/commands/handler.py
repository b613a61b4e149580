"""The use case: one command in, one result out (command -> vendor -> result).

Nothing here knows Kafka. :meth:`CommandHandler.handle` is the sequence; each step returns
either what the next step needs or the command's finished result:

1. find the endpoint and the account (else rejected);
2. build the validated request (``request``; else rejected), check the deadline;
3. a query goes straight to the vendor call; a mutation passes the idempotency guard first
   (``guard``: claim, or replay / reject / wait for another owner), holds its claim with a
   heartbeat, fetches a source_url file under it, reconciles first if the key was reclaimed
   (``reconcile``: the vendor may have done the work), and stores the outcome;
4. the vendor call (``vendor_call``): retried, and rate limited by the vendor client on the
   budget given here, ``RequestBudget(Lane.COMMANDS, deadline)``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway import retry
from gateway.commands import results
from gateway.commands.guard import IdempotencyGuard
from gateway.commands.reconcile import reconcile
from gateway.commands.request import build_request, ready_request
from gateway.commands.upload import PendingUpload, SourcePolicy, UploadSources
from gateway.commands.vendor_call import call_vendor
from gateway.idempotency import IdempotencyStore
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.results import ResultData
from gateway.ratelimit import Lane, RequestBudget
from gateway.settings import GatewaySettings
from gateway.vendor_api import BY_COMMAND, Endpoint, VendorClient, VendorRequest

__all__ = ["Account", "CommandHandler", "HandlerConfig"]


@dataclass(frozen=True, slots=True)
class Account:
    """One vendor account: its name and its client (which holds the account's rate limiter)."""

    name: str
    client: VendorClient


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """Plain values the composition root takes from settings (:meth:`from_settings`)."""

    owner: str  # this replica's name, part of every idempotency claim
    lease_s: float
    retention_s: float
    upload_inline_max: int
    upload_source: SourcePolicy  # FileUpload.source_url: off unless the policy allows hosts
    vendor_retry: retry.RetryPolicy
    store_retry: retry.RetryPolicy

    @classmethod
    def from_settings(
        cls, settings: GatewaySettings, owner: str, upload_source: SourcePolicy
    ) -> HandlerConfig:
        """The handler's values from ``settings``."""
        return cls(
            owner=owner,
            lease_s=settings.idempotency.lease_s,
            retention_s=settings.idempotency.retention_s,
            upload_inline_max=settings.commands.upload_inline_max_bytes,
            upload_source=upload_source,
            vendor_retry=retry.vendor_calls(settings.retry),
            store_retry=retry.store_outcome(settings.retry),
        )


class CommandHandler:
    """Turns a command envelope into its result."""

    def __init__(
        self,
        accounts: Mapping[str, Account],
        store: IdempotencyStore,
        config: HandlerConfig,
        uploads: UploadSources | None = None,
    ) -> None:
        self._accounts = accounts
        self._config = config
        self._guard = IdempotencyGuard(
            store,
            owner=config.owner,
            lease_s=config.lease_s,
            retention_s=config.retention_s,
            store_retry=config.store_retry,
        )
        # The source_url fetcher: the composition root's (it closes it), or one of our own.
        self._owns_uploads = uploads is None
        self._uploads = uploads or UploadSources(config.upload_source)

    async def handle(self, command: CommandEnvelope, sender: str | None = None) -> ResultData:
        """Process one command; never raises for anything the command itself got wrong.

        ``sender``: the webhook sender the command came through, if any; its idempotency keys
        are its own (two senders reusing an id never share an outcome)."""
        started = time.perf_counter()
        result = await self._outcome(command, sender)
        return result.model_copy(
            update={"duration_ms": round((time.perf_counter() - started) * 1000, 3)}
        )

    async def aclose(self) -> None:
        """Stop the lease keeper; close what the handler made itself (the source_url client,
        unless given one)."""
        await self._guard.aclose()
        if self._owns_uploads:
            await self._uploads.aclose()

    async def _outcome(self, command: CommandEnvelope, sender: str | None) -> ResultData:
        endpoint = BY_COMMAND.get(command.type)
        if endpoint is None:
            message = f"unknown command type {command.type!r}"
            return results.rejected(command, None, "UnknownCommandType", message)
        account = self._accounts.get(command.account)
        if account is None:
            message = f"unknown account {command.account!r}"
            return results.rejected(command, endpoint, "UnknownAccount", message)
        config = self._config
        request = build_request(command, endpoint, config.upload_source, config.upload_inline_max)
        if isinstance(request, ResultData):
            return request
        deadline = command.deadline_ts
        if deadline is not None and time.time() >= deadline:
            return results.deadline_expired(command, endpoint, "before the vendor was called")
        # Every vendor request of this command (token fetches, reconciling reads included)
        # waits for the rate limit on the commands lane, and not past the command's deadline.
        budget = RequestBudget(Lane.COMMANDS, deadline)
        if endpoint.kind == "query":
            async with ready_request(command, endpoint, request, self._uploads) as ready:
                if isinstance(ready, ResultData):
                    return ready
                return await call_vendor(
                    command, endpoint, account.client, ready, budget, config.vendor_retry
                )
        return await self._mutation(command, endpoint, account, request, budget, sender)

    async def _mutation(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any],
        account: Account,
        request: VendorRequest | PendingUpload,
        budget: RequestBudget,
        sender: str | None,
    ) -> ResultData:
        claimed = await self._guard.claim(command, endpoint, sender)
        if isinstance(claimed, ResultData):
            return claimed  # replayed, rejected, or the deadline passed while waiting
        # If this is cancelled (shutdown, rebalance) before an outcome, whether the vendor was
        # called is unknown: the claim is left to lapse, and the next owner reconciles.
        async with (
            self._guard.heartbeat(claimed),
            # A source_url is fetched only now, under the claim: a replay never fetches.
            ready_request(command, endpoint, request, self._uploads) as ready,
        ):
            if isinstance(ready, ResultData):
                await self._guard.release(claimed)  # the vendor was not called
                return ready
            client, policy = account.client, self._config.vendor_retry
            if self._guard.to_vendor(claimed):
                # Reclaimed: if the vendor already did the work, report it without a second
                # call; else call, and take its "already done" refusal as success.
                result = await reconcile(command, endpoint, client, budget) or await call_vendor(
                    command, endpoint, client, ready, budget, policy, reclaimed=True
                )
            else:
                result = await call_vendor(command, endpoint, client, ready, budget, policy)
        await self._guard.store_outcome(command, claimed, result)
        return result
