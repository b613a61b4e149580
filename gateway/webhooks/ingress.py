"""The ingress use case: signed request in, command on the commands topic, optional wait.

Nothing here knows HTTP or Starlette (``routes.py`` does). The steps of a submission, each
refusing with its own :mod:`~gateway.webhooks.errors` class:

1. the client's rate (429), checked by the route before the body is read, as is its size (413);
2. the Standard Webhooks signature (401), over the exact bytes received;
3. the envelope, with the same parser as the Kafka path (``parse_command``; 422). A top-level
   ``key`` member, if any, is taken out and becomes the Kafka key; otherwise the payload's
   ``room_id`` is the key, as ``gateway send`` does;
4. the webhook-id, claimed for the rest of its tolerance window (409 when already claimed);
5. the record, produced under the current trace context (the HTTP server span continues the
   caller's ``traceparent``); 503 if Kafka does not take it, and the claim is then released
   so a resend can pass;
6. with ``wait`` > 0, the result event read off the results topic (200), else 202.
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
    CommandEnvelope,
    InvalidEnvelopeError,
    NotAnEnvelopeError,
    parse_command,
)
from gateway.webhooks.clientrate import ClientRateLimiter
from gateway.webhooks.errors import (
    BadRequestError,
    ClientRateLimitedError,
    CommandNotFoundError,
    EnvelopeRejectedError,
    ReplayError,
)
from gateway.webhooks.publisher import CommandPublisher
from gateway.webhooks.replay import ReplayGuard
from gateway.webhooks.results import CommandStatus, ResultBoard
from gateway.webhooks.signature import Verifier

__all__ = ["KEY_FIELD", "Accepted", "CommandIngress", "Completed", "IngressConfig"]

log = logging.getLogger("gateway.webhooks")

#: The optional top-level member of a request body that names the Kafka key.
KEY_FIELD = "key"


@dataclass(frozen=True, slots=True)
class IngressConfig:
    """Plain values the composition root takes from settings."""

    max_body_bytes: int = 1_000_000
    wait_max_s: float = 30.0


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
        config: IngressConfig | None = None,
    ) -> None:
        self._verifier = verifier
        self._replay = replay
        self._publisher = publisher
        self._board = board
        self._limiter = limiter
        self.config = config or IngressConfig()

    def admit(self, client: str) -> None:
        """Take a slot of ``client``'s rate, or refuse with 429."""
        retry_after = self._limiter.admit(client)
        if retry_after > 0:
            raise ClientRateLimitedError(
                "this client sends faster than its request rate", retry_after
            )

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
        self, body: bytes, headers: Mapping[str, str], wait_s: float = 0.0
    ) -> Accepted | Completed:
        """Steps 2 to 6 of the module docstring."""
        message = self._verifier.verify(headers, body)
        command, value, key = _read_command(body)
        # Remember the id for as long as the same message would pass the timestamp check.
        ttl_s = message.timestamp + self._verifier.tolerance_s - self._verifier.clock() + 1.0
        if not await self._replay.claim(message.msg_id, max(ttl_s, 1.0)):
            raise ReplayError("this webhook-id was already received within the tolerance window")
        with contextlib.ExitStack() as stack:
            result = stack.enter_context(self._board.expect(command.id)) if wait_s > 0 else None
            try:
                await self._publisher.publish(value, key=key, headers=())
            except BaseException:
                await self._replay.release(message.msg_id)
                raise
            self._board.accepted(command.id)
            log.debug("accepted command %s (%s) key=%r", command.id, command.type, key)
            if result is None:
                return Accepted(command.id)
            try:
                async with asyncio.timeout(wait_s):
                    return Completed(command.id, await result)
            except TimeoutError:
                return Accepted(command.id)

    def status(self, command_id: str) -> CommandStatus:
        """What this replica knows of ``command_id``, or 404."""
        known = self._board.lookup(command_id)
        if known is None:
            raise CommandNotFoundError(
                "no status for this command id here: it was not accepted by this replica, "
                "or its result is older than this replica's results index"
            )
        return known


def _read_command(body: bytes) -> tuple[CommandEnvelope, bytes, bytes | None]:
    """The envelope, the record value (``key`` taken out) and the record key."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeRejectedError("the body is not JSON") from None
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
