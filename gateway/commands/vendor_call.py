"""The vendor call of one command: rate limited, retried, and turned into its result.

The rate limit is waited for by the vendor client, before each HTTP request it makes (token
fetches included), on the ``budget`` given here: the commands lane and the command's deadline.
The retries are ``gateway.retry.vendor_calls``: transient errors only, bounded by attempts and
by the deadline. After a reclaim, a vendor refusal that means "already done" is reconciled
(``reconcile``), so an unknown outcome is never turned into a failure or a second call.

The same holds within one call: a mutation whose request may have reached the vendor without
its answer reaching us (a timeout or a broken connection, not an HTTP status) is probed before
it is sent again (``probe_after_lost_answer``), and a refusal of a repeat that means "already
done" is reconciled. A blind second create would be refused (40005) and reported as a failure
although the room was created.
"""

from __future__ import annotations

from typing import Any

from gateway.commands import results
from gateway.commands.reconcile import probe_after_lost_answer, reconcile
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.results import ResultData
from gateway.ratelimit import RateLimitDeadlineError, RequestBudget
from gateway.retry import RetryPolicy
from gateway.vendor_api import Endpoint, VendorClient, VendorRequest
from gateway.vendor_api.errors import (
    VendorAPIError,
    VendorConnectionError,
    VendorError,
    VendorTimeoutError,
)

__all__ = ["call_vendor"]


async def call_vendor(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    client: VendorClient,
    request: VendorRequest,
    budget: RequestBudget,
    policy: RetryPolicy,
    *,
    reclaimed: bool = False,
) -> ResultData:
    """Send ``request`` until it succeeds, fails for good, or the budget runs out."""
    attempts = 0
    # Whether an earlier try of this mutation may have been done by the vendor unanswered.
    answer_lost = False

    def count(n: int) -> None:
        nonlocal attempts
        attempts = n

    async def attempt() -> Any:
        nonlocal answer_lost
        if answer_lost:
            done = await probe_after_lost_answer(command, endpoint, client, budget, attempts)
            if done is not None:
                return done
        try:
            return await client.call(endpoint, request, budget)
        except (VendorTimeoutError, VendorConnectionError) as exc:
            # Not a token fetch's error: the mutation's own request.
            if endpoint.kind != "query" and exc.endpoint == endpoint.path:
                answer_lost = True
            raise

    try:
        answer = await policy.run(attempt, budget.deadline, count)
    except RateLimitDeadlineError as exc:
        return results.failed(command, endpoint, "DeadlineExpired", str(exc), attempts)
    except VendorAPIError as exc:
        if reclaimed or answer_lost:
            done = await reconcile(command, endpoint, client, budget, exc, attempts)
            if done is not None:
                return done
        return results.vendor_failed(command, endpoint, exc, attempts)
    except VendorError as exc:
        return results.vendor_failed(command, endpoint, exc, attempts)
    if isinstance(answer, ResultData):
        return answer  # reconciled by probe
    return results.succeeded(command, endpoint, answer.model_dump(exclude_none=True), attempts)
