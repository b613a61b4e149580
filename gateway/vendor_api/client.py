"""VendorClient: one public method per vendor endpoint, over one pooled HTTP session.

The per-endpoint methods come from the generated :class:`VendorEndpointMethods`; all of them
go through :meth:`VendorClient.call`, which adds the token (refreshing it once on 40003),
waits for a rate-limit slot before every HTTP request it makes (token fetches included) on
the ``budget`` its caller passes (the command handler: the commands lane and the command's
deadline; the poller: its lane and the cycle's deadline), sends the request and turns a
non-success code into its typed error. Retries of transient errors are the caller's policy
(``gateway.retry``), not the client's: the client makes exactly one vendor attempt per call,
plus at most one after a token refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from gateway.ratelimit import UNHURRIED_COMMANDS, RateLimiter, RequestBudget
from gateway.telemetry.metrics import RATELIMIT_WAIT
from gateway.telemetry.tracing import span
from gateway.vendor_api.auth import TokenProvider
from gateway.vendor_api.endpoint import AnswerT, Endpoint, RequestT, to_form
from gateway.vendor_api.errors import TokenInvalidError, VendorProtocolError, error_for_code
from gateway.vendor_api.generated.client_methods import VendorEndpointMethods
from gateway.vendor_api.generated.endpoints import BY_COMMAND
from gateway.vendor_api.generated.endpoints.app import TOKEN_GET, TokenGetRequest
from gateway.vendor_api.transport import VendorTransport

__all__ = ["VendorClient"]

log = logging.getLogger("gateway.vendor_api")


class VendorClient(VendorEndpointMethods):
    """The vendor API for one account."""

    def __init__(
        self,
        transport: VendorTransport,
        *,
        access_key: SecretStr,
        secret_key: SecretStr,
        token_ttl_s: float | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._transport = transport
        self._limiter = limiter
        self._credentials = TokenGetRequest(access_key=access_key, secret_key=secret_key)
        self.tokens = TokenProvider(self._fetch_token, ttl_s=token_ttl_s)

    def __repr__(self) -> str:
        return f"VendorClient(base_url={self._transport.base_url!r}, tokens={self.tokens!r})"

    async def aclose(self) -> None:
        """Close the pooled HTTP session."""
        await self._transport.aclose()

    async def _fetch_token(self, budget: RequestBudget) -> str:
        answer = await self._send(TOKEN_GET, self._credentials, token=None, budget=budget)
        token = getattr(answer, "token", None)
        if not isinstance(token, str) or not token:
            raise VendorProtocolError(
                "/app/get_token answered without a token", endpoint=TOKEN_GET.path
            )
        return token

    async def call(
        self,
        endpoint: Endpoint[RequestT, AnswerT],
        request: RequestT,
        budget: RequestBudget = UNHURRIED_COMMANDS,
    ) -> AnswerT:
        """Send ``request``, each HTTP request (token fetch, refused-token repeat) waiting for a
        slot on ``budget``; a refused token is refreshed once and the call repeated."""
        if not endpoint.needs_token:
            return await self._send(endpoint, request, token=None, budget=budget)
        token = await self.tokens.get(budget)
        try:
            return await self._send(endpoint, request, token=token, budget=budget)
        except TokenInvalidError:
            log.info("vendor refused the token on %s; refreshing it once", endpoint.path)
            self.tokens.invalidate(token)
            return await self._send(
                endpoint, request, token=await self.tokens.get(budget), budget=budget
            )

    async def call_command(self, command_type: str, payload: Mapping[str, Any]) -> Any:
        """Validate ``payload`` against a command type's request model and send it."""
        endpoint = BY_COMMAND[command_type]
        return await self.call(endpoint, endpoint.request_model.model_validate(payload))

    async def _send(
        self,
        endpoint: Endpoint[RequestT, AnswerT],
        request: RequestT,
        *,
        token: str | None,
        budget: RequestBudget,
    ) -> AnswerT:
        params, files = to_form(request)
        if token is not None:
            params["token"] = token
        if self._limiter is not None:
            # Every HTTP request counts against the vendor's limit, token fetches included;
            # the path, for an endpoint the vendor also limits on its own.
            with span(
                "ratelimit wait", attributes={"ratelimit.lane": budget.lane.value}
            ) as current:
                waited = await self._limiter.acquire(budget.lane, budget.deadline, endpoint.path)
                current.set_attribute("ratelimit.wait_s", waited)
            RATELIMIT_WAIT.labels(budget.lane.value).observe(waited)
        body = await self._transport.send(endpoint, params, files)
        if body["ret"] != 0:
            msg = body.get("msg")
            details = {k: v for k, v in body.items() if k not in ("ret", "code", "msg")}
            raise error_for_code(
                body["ret"], str(msg) if msg is not None else None, endpoint.path, details
            )
        return endpoint.response_model.model_validate(body)
