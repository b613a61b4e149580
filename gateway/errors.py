"""The gateway's root error.

Every error the gateway raises on purpose derives from :class:`GatewayError`, so callers can
tell "the gateway refused or failed" from a programming error. Each boundary has its own
``errors.py`` with its subtree::

    GatewayError
    └── VendorError                     gateway/vendor/errors.py (the vendor HTTP API)
        ├── VendorTransportError        no usable answer: timeout, connection, HTTP status
        ├── VendorProtocolError         an answer that is not the vendor's JSON envelope
        └── VendorAPIError              the vendor answered with a non-success code

Errors carry context as attributes (code, group, retryable) and never a secret: messages
are built from redacted values only.
"""

from __future__ import annotations

__all__ = ["GatewayError"]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    #: Whether trying the same operation again may succeed.
    retryable: bool = False
