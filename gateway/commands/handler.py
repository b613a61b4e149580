"""The use case: one command in, one result out (command -> vendor -> result).

Nothing here knows Kafka. The handler validates the command against the catalogue, applies
idempotency to mutations (claim, wait for another owner, replay, reject a reused key,
reconcile after a crash), waits for the account's rate limit, calls the vendor with retries
bounded by attempts and deadline, and stores the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import tenacity
from pydantic import ValidationError

from gateway.commands.reconcile import RECONCILERS
from gateway.commands.retry import RetryPolicy
from gateway.commands.upload import (
    FileUploadPayload,
    PendingUpload,
    SourcePolicy,
    UploadSlotTimeoutError,
    UploadSourceError,
    UploadSources,
    prepare_upload,
)
from gateway.errors import GatewayError
from gateway.idempotency import ClaimState, IdempotencyStore, fingerprint, scope_key
from gateway.messages.envelope import CommandEnvelope, field_errors
from gateway.messages.masking import mask_result_data
from gateway.messages.results import ErrorInfo, ResultData, VendorStatus
from gateway.ratelimit import Lane, RateLimitDeadlineError, RateLimiter, request_budget
from gateway.vendor import BY_COMMAND, Endpoint, VendorClient, VendorRequest
from gateway.vendor.errors import VendorAPIError, VendorError

__all__ = ["Account", "CommandHandler", "HandlerConfig"]

log = logging.getLogger("gateway.commands")

_UNSETTLED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Account:
    """One vendor account: its client and its rate limiter."""

    name: str
    client: VendorClient
    limiter: RateLimiter


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """Plain values the composition root takes from settings."""

    owner: str  # this replica's name, part of every idempotency claim
    lease_s: float = 30.0
    retention_s: float = 86400.0
    upload_inline_max: int = 512 * 1024
    # FileUpload.source_url: off unless the policy allows hosts
    upload_source: SourcePolicy = field(default_factory=SourcePolicy)
    store_retry_s: float = 30.0  # how long to retry storing an outcome after a vendor call


class _Outcome(Exception):  # noqa: N818 - control flow, not an error
    """Internal: carries a finished result out of nested steps."""

    def __init__(self, result: ResultData) -> None:
        self.result = result


class CommandHandler:
    """Turns a command envelope into its result."""

    def __init__(
        self,
        accounts: Mapping[str, Account],
        store: IdempotencyStore,
        retry: RetryPolicy,
        config: HandlerConfig,
        uploads: UploadSources | None = None,
    ) -> None:
        self._accounts = accounts
        self._store = store
        self._retry = retry
        self._config = config
        # The source_url fetcher: the composition root's (it closes it), or one of our own.
        self._owns_uploads = uploads is None
        self._uploads = uploads or UploadSources(config.upload_source)
        # Keys taken to the vendor whose outcome is not stored yet (LRU, bounded).
        self._unsettled: OrderedDict[str, None] = OrderedDict()
        self._beats: set[asyncio.Task[None]] = set()

    async def handle(self, command: CommandEnvelope, sender: str | None = None) -> ResultData:
        """Process one command; never raises for anything the command itself got wrong.

        ``sender``: the webhook sender the command came through, if any; its idempotency keys
        are its own (two senders reusing an id never share an outcome)."""
        started = time.perf_counter()
        try:
            result = await self._handle(command, sender)
        except _Outcome as done:
            result = done.result
        return result.model_copy(
            update={"duration_ms": round((time.perf_counter() - started) * 1000, 3)}
        )

    async def aclose(self) -> None:
        """Close what the handler made itself (the source_url client, unless given one)."""
        if self._owns_uploads:
            await self._uploads.aclose()

    # -- steps ---------------------------------------------------------------------------

    def _result(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any] | None, **fields: Any
    ) -> ResultData:
        return ResultData(
            command_id=command.id,
            command_type=command.type,
            idempotency_key=command.effective_idempotency_key,
            endpoint=endpoint.path if endpoint else None,
            **fields,
        )

    def _reject(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any] | None,
        error_class: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
    ) -> _Outcome:
        error = ErrorInfo(error_class=error_class, message=message, fields=fields)
        return _Outcome(self._result(command, endpoint, status="rejected", error=error))

    async def _handle(self, command: CommandEnvelope, sender: str | None) -> ResultData:
        endpoint = BY_COMMAND.get(command.type)
        if endpoint is None:
            raise self._reject(
                command, None, "UnknownCommandType", f"unknown command type {command.type!r}"
            )
        account = self._accounts.get(command.account)
        if account is None:
            raise self._reject(
                command, endpoint, "UnknownAccount", f"unknown account {command.account!r}"
            )
        request = await self._request(command, endpoint)
        if command.expired():
            raise self._expired(command, endpoint, "before the vendor was called")
        if endpoint.kind == "query":
            async with self._prepared(command, endpoint, request, None) as ready:
                return await self._call(command, endpoint, account, ready, reclaimed=False)
        return await self._mutation(command, endpoint, account, request, sender)

    async def _request(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any]
    ) -> VendorRequest | PendingUpload:
        """The validated request; nothing is fetched here (a source_url waits for the claim)."""
        try:
            if command.type == "FileUpload":
                payload = FileUploadPayload.model_validate(command.payload)
                return prepare_upload(
                    payload, self._config.upload_source, self._config.upload_inline_max
                )
            request: VendorRequest = endpoint.request_model.model_validate(command.payload)
            return request
        except ValidationError as exc:
            raise self._reject(
                command,
                endpoint,
                "InvalidPayload",
                f"payload does not match {endpoint.path}",
                field_errors(exc, "payload."),
            ) from None
        except UploadSourceError as exc:
            raise self._reject(
                command,
                endpoint,
                "InvalidPayload",
                str(exc),
                [{"field": f"payload.{exc.field}", "reason": str(exc)}],
            ) from None

    @contextlib.asynccontextmanager
    async def _prepared(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any],
        request: VendorRequest | PendingUpload,
        claim: tuple[str, str] | None,
    ) -> AsyncIterator[VendorRequest]:
        """The request ready to send: a source_url file is fetched here, in an upload slot held
        until the vendor call is over, and deleted after it. If the fetch fails the vendor is
        not called, so the idempotency ``claim`` (key, owner) is released, not completed."""
        if not isinstance(request, PendingUpload):
            yield request
            return
        deadline = _deadline(command)
        try:
            async with self._uploads.slot(deadline):
                file = await self._uploads.fetch(request.url, deadline)
                with file:
                    yield request.request(file)
        except (UploadSlotTimeoutError, UploadSourceError) as exc:
            if claim is not None:
                await self._release(*claim)
            if isinstance(exc, UploadSlotTimeoutError):
                raise _Outcome(
                    self._failed(command, endpoint, "DeadlineExpired", str(exc), attempts=0)
                ) from None
            raise _Outcome(
                self._failed(command, endpoint, "UploadSourceError", str(exc), attempts=0)
            ) from None

    async def _release(self, key: str, owner: str) -> None:
        try:
            await self._store.release(key, owner)
        except Exception as exc:  # the claim lapses on its own after its lease
            log.warning("releasing an idempotency claim failed (%s)", type(exc).__name__)

    async def _mutation(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any],
        account: Account,
        request: VendorRequest | PendingUpload,
        sender: str | None,
    ) -> ResultData:
        key = scope_key(command.account, command.effective_idempotency_key, sender)
        fp = fingerprint(command.type, command.payload)
        owner = f"{self._config.owner}/{command.id}"
        claim = await self._claim_or_wait(command, endpoint, key, fp, owner)
        # If this is cancelled (shutdown, rebalance) before an outcome, whether the vendor was
        # called is unknown: the claim is left to lapse, and the next owner reconciles.
        async with (
            self._heartbeat(key, owner),
            # A source_url is fetched only now, under the claim: a replay never fetches.
            self._prepared(command, endpoint, request, (key, owner)) as ready,
        ):
            # A key this process already took to the vendor without storing the outcome (the
            # store failed, or lost the claim in a restart) is reconciled like a lapsed claim.
            reclaimed = self._mark_unsettled(key) or claim
            probed = await self._probe(command, endpoint, account) if reclaimed else None
            result = probed or await self._call(
                command, endpoint, account, ready, reclaimed=reclaimed
            )
        await self._store_outcome(command, key, owner, result)
        return result

    def _mark_unsettled(self, key: str) -> bool:
        """Note that ``key`` goes to the vendor; returns whether it went before, unsettled."""
        seen = key in self._unsettled
        self._unsettled[key] = None
        self._unsettled.move_to_end(key)
        if len(self._unsettled) > _UNSETTLED_MAX:
            self._unsettled.popitem(last=False)
        return seen

    async def _store_outcome(
        self, command: CommandEnvelope, key: str, owner: str, result: ResultData
    ) -> None:
        """Store the outcome, retrying the store for a while; never raise after a vendor call.

        Raising here would make the consumer run the record again, and with it the vendor call.
        If the store stays down, the result is still published; the key stays in
        ``_unsettled`` so that a rerun in this process reconciles instead of calling again.
        """
        # Masked like the published event: the store never holds a vendor secret either.
        stored = mask_result_data(result).model_dump(
            mode="json", exclude={"duration_ms", "replayed"}
        )
        try:
            async for attempt in tenacity.AsyncRetrying(
                stop=tenacity.stop_after_delay(self._config.store_retry_s),
                wait=tenacity.wait_random_exponential(multiplier=0.1, max=2.0),
                retry=tenacity.retry_if_exception_type(Exception),
                reraise=True,
            ):
                with attempt:
                    completed = await self._store.complete(
                        key, owner, stored, self._config.retention_s
                    )
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

    async def _claim_or_wait(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any], key: str, fp: str, owner: str
    ) -> bool:
        """Own the key (returns whether it was reclaimed), or finish with a replay/rejection."""
        delay = 0.05
        while True:
            claim = await self._store.claim(key, fp, owner, self._config.lease_s)
            if claim.state is ClaimState.CLAIMED:
                return claim.reclaimed
            if claim.state is ClaimState.DONE and claim.outcome is not None:
                replay = ResultData.model_validate(
                    {**claim.outcome, "command_id": command.id, "replayed": True, "attempts": 0}
                )
                raise _Outcome(replay)
            if claim.state is ClaimState.CONFLICT:
                raise self._reject(
                    command,
                    endpoint,
                    "IdempotencyKeyReused",
                    "the idempotency key was used with a different payload",
                )
            # IN_FLIGHT on another owner: wait for its outcome, never call twice.
            if command.expired():
                raise self._expired(
                    command, endpoint, "while another owner held the idempotency key"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    @contextlib.asynccontextmanager
    async def _heartbeat(self, key: str, owner: str) -> AsyncIterator[None]:
        # Stopped by a flag as well as by cancelling, and never awaited: redis-py's calls can
        # swallow a cancel on Python 3.11 (asyncio.wait_for, cpython gh-86296), and awaiting a
        # beat that then never ends would hold the command, and its partition, forever.
        stopped = False

        async def beat() -> None:
            while not stopped:
                await asyncio.sleep(self._config.lease_s / 3)
                if stopped:
                    return
                try:
                    await self._store.renew(key, owner, self._config.lease_s)
                except Exception as exc:  # the next beat tries again; the lease has slack
                    log.warning("renewing an idempotency claim failed (%s)", type(exc).__name__)

        task = asyncio.create_task(beat(), name=f"heartbeat:{owner}")
        self._beats.add(task)  # asyncio keeps only weak references to tasks
        task.add_done_callback(self._beats.discard)
        try:
            yield
        finally:
            stopped = True
            task.cancel()  # ends the sleep at once; a store call in progress ends at the flag

    async def _call(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any],
        account: Account,
        request: VendorRequest,
        *,
        reclaimed: bool,
    ) -> ResultData:
        deadline = command.deadline.timestamp() if command.deadline else None
        attempts = 0

        def count(n: int) -> None:
            nonlocal attempts
            attempts = n

        async def attempt() -> Any:
            return await account.client.call(endpoint, request)

        try:
            with request_budget(Lane.COMMANDS, deadline):
                answer = await self._retry.run(attempt, deadline, count)
        except RateLimitDeadlineError as exc:
            return self._failed(command, endpoint, "DeadlineExpired", str(exc), attempts=attempts)
        except VendorAPIError as exc:
            reconciled = await self._reconcile(command, account, exc) if reclaimed else None
            if reconciled is not None:
                return reconciled.model_copy(update={"attempts": attempts})
            return self._result(
                command,
                endpoint,
                status="failed",
                vendor=VendorStatus(ret=exc.code, msg=exc.vendor_msg),
                error=_error_info(exc),
                attempts=attempts,
            )
        except VendorError as exc:
            return self._result(
                command, endpoint, status="failed", error=_error_info(exc), attempts=attempts
            )
        body = answer.model_dump(exclude_none=True)
        vendor = VendorStatus(ret=body.pop("ret", 0), msg=body.pop("msg", None))
        body.pop("code", None)
        return self._result(
            command, endpoint, status="succeeded", vendor=vendor, result=body, attempts=attempts
        )

    async def _probe(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any], account: Account
    ) -> ResultData | None:
        """After a reclaim: if the vendor already did the work, report it without calling again."""
        rule = RECONCILERS.get(command.type)
        if rule is None or rule.probe is None:
            return None
        if any(command.payload.get(f) in (None, "") for f in rule.requires):
            return None
        deadline = command.deadline.timestamp() if command.deadline else None
        try:
            with request_budget(Lane.COMMANDS, deadline):
                state = await rule.probe(account.client, command.payload)
        except (VendorError, RateLimitDeadlineError):
            return None
        if state is None:
            return None
        log.info("reconciled %s %s by probe after an unfinished claim", command.type, command.id)
        return self._result(
            command,
            endpoint,
            status="succeeded",
            vendor=VendorStatus(ret=0, msg="success"),
            result={"reconciled": True, "state": state},
            attempts=0,
        )

    async def _reconcile(
        self, command: CommandEnvelope, account: Account, exc: VendorAPIError
    ) -> ResultData | None:
        rule = RECONCILERS.get(command.type)
        if rule is None or exc.code not in rule.codes:
            return None
        if any(command.payload.get(f) in (None, "") for f in rule.requires):
            return None
        state: dict[str, Any] | None = None
        if rule.read is not None:
            try:
                with request_budget(Lane.COMMANDS, None):
                    state = await rule.read(account.client, command.payload)
            except (VendorError, RateLimitDeadlineError):
                return None
        log.info(
            "reconciled %s %s after an unfinished claim (vendor said %s)",
            command.type,
            command.id,
            exc.code,
        )
        return self._result(
            command,
            BY_COMMAND[command.type],
            status="succeeded",
            vendor=VendorStatus(ret=exc.code, msg=exc.vendor_msg),
            result={"reconciled": True, "state": state},
        )

    def _expired(
        self, command: CommandEnvelope, endpoint: Endpoint[Any, Any], when: str
    ) -> _Outcome:
        return _Outcome(
            self._failed(
                command, endpoint, "DeadlineExpired", f"the deadline passed {when}", attempts=0
            )
        )

    def _failed(
        self,
        command: CommandEnvelope,
        endpoint: Endpoint[Any, Any],
        error_class: str,
        message: str,
        attempts: int,
    ) -> ResultData:
        return self._result(
            command,
            endpoint,
            status="failed",
            error=ErrorInfo(error_class=error_class, message=message),
            attempts=attempts,
        )


def _deadline(command: CommandEnvelope) -> float | None:
    """The command's deadline as a Unix time (a naive deadline is UTC, as in ``expired``)."""
    if command.deadline is None:
        return None
    deadline = command.deadline
    return (deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)).timestamp()


def _error_info(exc: GatewayError) -> ErrorInfo:
    if isinstance(exc, VendorAPIError):
        return ErrorInfo(
            error_class=type(exc).__name__,
            message=str(exc),
            code=exc.code,
            documented=exc.documented,
            group=exc.group,
            retryable=exc.retryable,
            details=exc.details or None,
        )
    return ErrorInfo(error_class=type(exc).__name__, message=str(exc), retryable=exc.retryable)
