"""Standard Webhooks signatures: ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.ts.body">``.

Written here (the verification is about forty lines) rather than taken from the
``standardwebhooks`` package. That package is the spec authors' own, MIT, typed and without
dependencies, and the tests cross-check against it; but as a verifier for this ingress it
falls short: one secret per ``Webhook`` object (rotation means looping over several and
re-checking the timestamp each time), a fixed 5-minute tolerance against ``datetime.now()``
that no test can move, a body decoded as UTF-8 text (signatures are over bytes), and a
malformed header entry (no comma, bad base64) escaping as ``ValueError``/``binascii.Error``
instead of its verification error, which would turn a bad request into a 500 here. Being
synchronous is no drawback: an HMAC takes microseconds.

What is checked, in order: the three headers are present; the id is at most 256 visible
ASCII characters; the timestamp is whole seconds within ``tolerance_s`` of now, in either
direction; one of the space-separated ``v1,`` entries equals the HMAC under one of the
secrets (``hmac.compare_digest``; other versions such as ``v1a`` are skipped). Secrets are
``whsec_`` + base64 of at least :data:`MIN_KEY_BYTES` key bytes, as the spec gives them out.

Every key belongs to a *sender*: a name from ``GATEWAY_WEBHOOKS__SENDERS`` (several keys while
rotating), or for a bare secret ``key-`` + 12 hex digits of a SHA-256 of its key bytes (never
the secret). A verified message says which sender signed it; that identity scopes what the
sender may read back and its request rate.

A request without a body (``GET /v1/commands/{id}``) is signed over :func:`request_content`,
``"<METHOD> <path>"``, in place of the body: ``<path>`` is the path exactly as in the request
line (percent-encoded as sent, without the query).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gateway.webhooks.errors import SignatureError

__all__ = [
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MIN_KEY_BYTES",
    "SECRET_PREFIX",
    "SignedMessage",
    "SigningKey",
    "Verifier",
    "derived_sender_id",
    "request_content",
    "signed_headers",
]

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
#: Shorter keys are refused: a 1-byte key (``whsec_AA``) is guessed in 256 tries.
MIN_KEY_BYTES = 24

_ID = re.compile(r"[\x21-\x7e]{1,256}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def derived_sender_id(key: bytes) -> str:
    """The sender id of a bare secret: ``key-`` + 12 hex digits of SHA-256 over its key."""
    return "key-" + hashlib.sha256(b"vendor-gateway sender\x00" + key).hexdigest()[:12]


def request_content(method: str, path: str) -> bytes:
    """What is signed in place of the body for a request without one: ``"GET /v1/..."``."""
    return f"{method} {path}".encode()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One secret's key bytes and the sender it identifies; its repr shows nothing of the key."""

    key: bytes = field(repr=False)
    sender: str = ""

    def __post_init__(self) -> None:
        if not self.sender:
            object.__setattr__(self, "sender", derived_sender_id(self.key))

    @classmethod
    def parse(cls, secret: str, sender: str = "") -> SigningKey:
        """Read ``whsec_<base64>`` (the prefix may be left off; padding is optional)."""
        body = secret.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            raise ValueError("a webhook secret is not whsec_<base64>")  # never echo the value
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a webhook secret has fewer than {MIN_KEY_BYTES} key bytes")
        return cls(key, sender)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``v1,<base64>`` signature of one message."""
        return "v1," + base64.b64encode(self.digest(msg_id, timestamp, body)).decode("ascii")

    def digest(self, msg_id: str, timestamp: int, body: bytes) -> bytes:
        """The raw HMAC-SHA256 over ``id.timestamp.body``."""
        signed = f"{msg_id}.{timestamp}.".encode() + body
        return hmac.new(self.key, signed, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """What a valid signature vouches for: the message id, its timestamp and who signed it."""

    msg_id: str
    timestamp: int
    sender: str


@dataclass(frozen=True, slots=True)
class Verifier:
    """Checks webhook-* headers against a body under any of several secrets."""

    keys: tuple[SigningKey, ...]
    tolerance_s: float = 300.0
    clock: Callable[[], float] = time.time

    @classmethod
    def from_secrets(cls, secrets: Iterable[str], tolerance_s: float = 300.0) -> Verifier:
        """A verifier for ``whsec_`` secrets (old and new together while rotating)."""
        return cls(tuple(SigningKey.parse(s) for s in secrets), tolerance_s)

    @classmethod
    def from_senders(
        cls,
        senders: Mapping[str, Iterable[str]],
        secrets: Iterable[str] = (),
        tolerance_s: float = 300.0,
    ) -> Verifier:
        """Named senders' secrets, plus bare ``secrets`` (each its own sender, ``key-<hash>``)."""
        keys = [SigningKey.parse(s, name) for name, group in senders.items() for s in group]
        keys += [SigningKey.parse(s) for s in secrets]
        if len({k.key for k in keys}) != len(keys):
            raise ValueError("the same webhook secret is given twice (one secret, one sender)")
        return cls(tuple(keys), tolerance_s)

    def verify(self, headers: Mapping[str, str], body: bytes) -> SignedMessage:
        """The signed message, or :class:`SignatureError` saying what does not hold."""
        msg_id = headers.get(HEADER_ID)
        stamp = headers.get(HEADER_TIMESTAMP)
        signatures = headers.get(HEADER_SIGNATURE)
        missing = [
            name
            for name, value in (
                (HEADER_ID, msg_id),
                (HEADER_TIMESTAMP, stamp),
                (HEADER_SIGNATURE, signatures),
            )
            if not value
        ]
        if missing or msg_id is None or stamp is None or signatures is None:
            raise SignatureError(f"missing header(s): {', '.join(missing)}")
        if not _ID.fullmatch(msg_id):
            raise SignatureError(f"{HEADER_ID} must be 1 to 256 visible ASCII characters")
        if not _TIMESTAMP.fullmatch(stamp):
            raise SignatureError(f"{HEADER_TIMESTAMP} must be whole seconds since the epoch")
        timestamp = int(stamp)
        skew = self.clock() - timestamp
        if skew > self.tolerance_s:
            raise SignatureError(f"{HEADER_TIMESTAMP} is older than {self.tolerance_s:g} s")
        if skew < -self.tolerance_s:
            raise SignatureError(f"{HEADER_TIMESTAMP} is more than {self.tolerance_s:g} s ahead")
        if not self.keys:
            raise SignatureError("no signing secret is configured on this gateway")
        expected = [(key.sender, key.digest(msg_id, timestamp, body)) for key in self.keys]
        for entry in signatures.split():
            version, _, encoded = entry.partition(",")
            if version != "v1":
                continue
            try:
                given = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            for sender, digest in expected:
                if hmac.compare_digest(given, digest):
                    return SignedMessage(msg_id, timestamp, sender)
        raise SignatureError("no v1 signature matches a configured secret")


def signed_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three webhook-* headers a sender attaches to ``body`` (for clients and tests); for a
    ``GET``, ``body`` is :func:`request_content` of its method and path."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: SigningKey.parse(secret).sign(msg_id, timestamp, body),
    }
