"""Why the webhook ingress refuses a request: one class per answer, each knows its HTTP status.

::

    GatewayError
    └── WebhookError                      status, slug, title; the reason is str(exc)
        ├── BadRequestError          400  a malformed query parameter or header value
        ├── SignatureError           401  missing or malformed webhook-* headers, a timestamp
        │                                 outside the tolerance, no signature that matches
        ├── CommandNotFoundError     404  no status known for this command id (for this sender)
        ├── RequestTimeoutError      408  the body did not arrive within the body timeout
        ├── ReplayError              409  this webhook-id was already received in the window
        ├── BodyTooLargeError        413  the body is above the configured limit
        ├── EnvelopeRejectedError    422  the body is not a valid command envelope (``fields``)
        ├── ClientRateLimitedError   429  this sender (or this unsigned client) is over its rate
        └── UnavailableError         503  Kafka (or the replay store) did not answer in time

Reasons are fixed texts plus header names, field names and numbers: never a secret, a
signature, a body or a header value. A refused signature is answered with one generic
reason (:data:`NOT_SIGNED`) whatever failed; the precise one goes to a debug log only.
:func:`problem_details` turns any of them into an RFC 9457 problem object, in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar

from gateway.errors import GatewayError

__all__ = [
    "NOT_SIGNED",
    "PROBLEM_TYPE_PREFIX",
    "BadRequestError",
    "BodyTooLargeError",
    "ClientRateLimitedError",
    "CommandNotFoundError",
    "EnvelopeRejectedError",
    "ReplayError",
    "RequestTimeoutError",
    "SignatureError",
    "UnavailableError",
    "WebhookError",
    "problem_details",
]

#: Problem ``type`` URIs are ``urn:vendor-gateway:problem:<slug>``: stable names clients can test.
PROBLEM_TYPE_PREFIX = "urn:vendor-gateway:problem:"

#: The one reason every refused signature gets (which check failed is logged at DEBUG only).
NOT_SIGNED = "the request is not signed by a known sender"


class WebhookError(GatewayError):
    """A refused webhook request; ``str(exc)`` is the reason shown to the caller."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"


class BadRequestError(WebhookError):
    """A query parameter or header that cannot be read."""


class SignatureError(WebhookError):
    """The Standard Webhooks signature does not hold."""

    status = 401
    slug = "bad-signature"
    title = "Signature verification failed"


class CommandNotFoundError(WebhookError):
    """No status is known for this command id (on this replica)."""

    status = 404
    slug = "not-found"
    title = "Not found"


class RequestTimeoutError(WebhookError):
    """The request body did not arrive in full within the body timeout."""

    status = 408
    slug = "request-timeout"
    title = "Request timeout"


class ReplayError(WebhookError):
    """The webhook-id was already received within the tolerance window."""

    status = 409
    slug = "replay"
    title = "Webhook replayed"


class BodyTooLargeError(WebhookError):
    """The request body is larger than the configured limit."""

    status = 413
    slug = "body-too-large"
    title = "Request body too large"


class EnvelopeRejectedError(WebhookError):
    """The body is not a command envelope; ``fields`` says which fields and why."""

    status = 422
    slug = "invalid-envelope"
    title = "Invalid command envelope"

    def __init__(self, reason: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.fields = fields or []


class ClientRateLimitedError(WebhookError):
    """This client sends faster than the per-client rate."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"
    retryable = True

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class UnavailableError(WebhookError):
    """A backend the request needs (Kafka, the replay store) did not answer in time."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"
    retryable = True


def problem_details(exc: WebhookError) -> dict[str, Any]:
    """The RFC 9457 problem object for ``exc`` (``errors`` lists field reasons on 422)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": str(exc),
    }
    if isinstance(exc, EnvelopeRejectedError) and exc.fields:
        body["errors"] = exc.fields
    return body
