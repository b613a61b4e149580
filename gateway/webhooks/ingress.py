"""The ingress use case: signed request in, command on the commands topic, optional wait.

Nothing here knows HTTP or Starlette (``routes.py`` does). The steps of a submission, each
refusing with its own :mod:`~gateway.webhooks.errors` class:

1. the Standard Webhooks signature (401), over the exact bytes received (read by the route
   within the body timeout, 408, and size limit, 413). Every failure is the same generic 401,
   and takes a slot of the client address's small failed-auth budget (429 beyond it), so
   unsigned floods cannot use up a signed sender's rate;
2. the sender's rate (429): per sender id, the identity of the secret that verified;
3. the envelope, with the same parser as the Kafka path (``parse_command``; 422). A top-level
   ``key`` member, if any, is taken out and becomes the Kafka key; otherwise the payload's
   ``room_id`` is the key, as ``gateway send`` does;
4. the webhook-id, claimed for the rest of its tolerance window (409 when already claimed),
   and the command, reserved on the board under (sender, id) so its result cannot be missed;
5. the record, produced under the current trace context (the HTTP server span continues the
   caller's ``traceparent``) with a ``gateway-sender`` header naming the sender (the commands
   role scopes the idempotency key by it and puts it on the result); 503 if Kafka does not
   take it, and the claims are then released so a resend can pass;
6. with ``wait`` > 0, the result event read off the results topic (200), else 202; when
   ``max_waiters`` requests wait already, 202 at once.

A status query (``GET /v1/commands/{id}``) passes steps 1, 2 and the webhook-id claim, and
is answered only for the sender that submitted the command (404 otherwise, the same as an
unknown id, so ids cannot be probed): by any replica that has read its result, and by the
accepting replica from the moment it was accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.messages.envelope import (
    MAX_JSON_DEPTH,
    CommandEnvelope,
    InvalidEnvelopeError,
    NotAnEnvelopeError,
    json_depth,
    parse_command,
)
from gateway.messages.headers import SENDER
from gateway.settings import WebhookSettings
from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.errors import (
    NOT_SIGNED,
    BadRequestError,
    ClientRateLimitedError,
    CommandNotFoundError,
    EnvelopeRejectedError,
    ReplayError,
    SignatureError,
)
from gateway.webhooks.publisher import CommandPublisher
from gateway.webhooks.replay import ReplayGuard
from gateway.webhooks.results import CommandStatus, ResultBoard
from gateway.webhooks.signature import SignedMessage, Verifier

__all__ = [
    "KEY_FIELD",
    "SENDER_HEADER",
    "Accepted",
    "CommandIngress",
    "Completed",
    "IngressConfig",
]

log = logging.getLogger("gateway.webhooks")

#: The optional top-level member of a request body that names the Kafka key.
KEY_FIELD = "key"
#: The record header naming the sender whose signature the ingress verified.
SENDER_HEADER = SENDER


@dataclass(frozen=True, slots=True)
class IngressConfig:
    """Plain values from settings (no defaults: :class:`~gateway.settings.WebhookSettings`
    has them)."""

    max_body_bytes: int
    wait_max_s: float
    body_timeout_s: float

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> IngressConfig:
        """The values the webhooks settings give."""
        return cls(
            max_body_bytes=settings.max_body_bytes,
            wait_max_s=settings.wait_max_s,
            body_timeout_s=settings.body_timeout_s,
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    """The command is on the commands topic; its result has not been seen (yet)."""

    command_id: str

    def as_json(self) -> dict[str, Any]:
        """The 202 body."""
        return {"id": self.command_id, "status": "accepted"}


@dataclass(frozen=True, slots=True)
class Completed:
    """The command's result event arrived within the wait."""

    command_id: str
    event: dict[str, Any]


class CommandIngress:
    """Verifies, validates, de-duplicates and publishes commands; answers status queries."""

    def __init__(
        self,
        verifier: Verifier,
        replay: ReplayGuard,
        publisher: CommandPublisher,
        board: ResultBoard,
        limiter: ClientRateLimiter,
        config: IngressConfig,
        *,
        failed_auth: ClientRateLimiter,
    ) -> None:
        self._verifier = verifier
        self._replay = replay
        self._publisher = publisher
        self._board = board
        self._limiter = limiter
        self._failed_auth = failed_auth
        self.config = config

    def authenticate(
        self, headers: Mapping[str, str], content: bytes, client: str
    ) -> SignedMessage:
        """Steps 1 and 2: the signature over ``content``, then the sender's rate.

        Every signature failure is the same 401 (the reason is logged at DEBUG only) and
        takes a slot of ``client``'s small failed-auth budget (429 beyond it)."""
        try:
            message = self._verifier.verify(headers, content)
        except SignatureError as exc:
            log.debug("signature refused (client %s): %s", client, exc)
            retry_after = self._failed_auth.admit(client)
            if retry_after > 0:
                raise ClientRateLimitedError(
                    "too many requests without a valid signature from this client", retry_after
                ) from None
            raise SignatureError(NOT_SIGNED) from None
        retry_after = self._limiter.admit(message.sender)
        if retry_after > 0:
            raise ClientRateLimitedError(
                "this sender sends faster than its request rate", retry_after
            )
        return message

    def wait_seconds(self, raw: str | None) -> float:
        """The ``?wait=`` value: seconds >= 0, capped at ``wait_max_s``; 0 when absent."""
        if raw is None or raw == "":
            return 0.0
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise BadRequestError("wait must be a number of seconds, 0 or more")
        return min(seconds, self.config.wait_max_s)

    async def submit(
        self, body: bytes, message: SignedMessage, wait_s: float = 0.0
    ) -> Accepted | Completed:
        """Steps 3 to 6 of the module docstring, for a body ``message`` vouches for."""
        command, value, key = _read_command(body)
        # Remember the id for as long as the same message would pass the timestamp check.
        await self._claim(message)
        sender = message.sender
        self._board.reserve(sender, command.id)
        if wait_s > 0 and not self._board.may_wait():
            log.info(
                "%d requests wait for results already; answering without waiting",
                self._board.waiting,
            )
            wait_s = 0.0
        with contextlib.ExitStack() as stack:
            result = (
                stack.enter_context(self._board.expect(sender, command.id)) if wait_s > 0 else None
            )
            try:
                await self._publisher.publish(
                    value, key=key, headers=((SENDER_HEADER, sender.encode()),)
                )
            except BaseException:
                stack.close()
                self._board.release(sender, command.id)
                await self._replay.release(message.msg_id)
                raise
            log.debug(
                "accepted command %s (%s) key=%r from %s", command.id, command.type, key, sender
            )
            if result is None:
                return Accepted(command.id)
            try:
                async with asyncio.timeout(wait_s):
                    return Completed(command.id, await result)
            except TimeoutError:
                return Accepted(command.id)

    async def status(self, message: SignedMessage, command_id: str) -> CommandStatus:
        """What this replica knows of ``message``'s sender's ``command_id``; 404 alike for an
        unknown id and for another sender's."""
        await self._claim(message)
        known = self._board.lookup(message.sender, command_id)
        if known is None:
            raise CommandNotFoundError(
                "no command with this id from this sender here: its result is not in this"
                " replica's results index (yet, or any more)"
            )
        return known

    async def _claim(self, message: SignedMessage) -> None:
        """The webhook-id, once per tolerance window (409 when seen already)."""
        ttl_s = message.timestamp + self._verifier.tolerance_s - self._verifier.clock() + 1.0
        if not await self._replay.claim(message.msg_id, max(ttl_s, 1.0)):
            raise ReplayError("this webhook-id was already received within the tolerance window")


def _read_command(body: bytes) -> tuple[CommandEnvelope, bytes, bytes | None]:
    """The envelope, the record value (``key`` taken out) and the record key."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeRejectedError("the body is not JSON") from None
    except RecursionError:  # nested ~1,000 deep: a bad body, not a server error
        raise EnvelopeRejectedError(
            f"the body is JSON nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    if json_depth(document) > MAX_JSON_DEPTH:
        raise EnvelopeRejectedError(f"the body is JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(document, dict):
        raise EnvelopeRejectedError("the body is not a JSON object")
    value = body
    explicit_key: object = None
    if KEY_FIELD in document:
        explicit_key = document.pop(KEY_FIELD)
        if explicit_key is not None and (not isinstance(explicit_key, str) or not explicit_key):
            raise EnvelopeRejectedError(
                "invalid key", [{"field": KEY_FIELD, "reason": "must be a non-empty string"}]
            )
        value = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        command = parse_command(value)
    except NotAnEnvelopeError as exc:
        raise EnvelopeRejectedError(f"not a command envelope: {exc}") from None
    except InvalidEnvelopeError as exc:
        raise EnvelopeRejectedError(exc.reason, exc.fields) from None
    key = explicit_key if isinstance(explicit_key, str) else command.payload.get("room_id")
    return command, value, None if key is None else str(key).encode()
