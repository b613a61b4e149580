"""The gateway's root error.

Every error the gateway raises on purpose derives from :class:`GatewayError`, so callers can
tell "the gateway refused or failed" from a programming error. The whole tree, each class with
the module that defines it (a boundary with several has its own ``errors.py``; a unit test
keeps this drawing equal to the classes, tests/unit/test_error_tree.py)::

    GatewayError
    ├── NotAnEnvelopeError              messages/envelope.py: no command id can be read (DLQ)
    ├── InvalidEnvelopeError            messages/envelope.py: an id, but the envelope is wrong
    ├── IdempotencyStoreFullError       idempotency/store.py: no room for a claim (disk, memory)
    ├── RateLimitDeadlineError          ratelimit/limiter.py: the next slot is past the deadline
    ├── RecordTooLargeError             commands/outbound.py: even the compact result is over 1 MB
    ├── UploadSourceError               commands/upload.py: the FileUpload file cannot be read
    ├── UploadSlotTimeoutError          commands/upload.py: the deadline passed waiting for a slot
    ├── StableOffsetsUnsupportedError   commands/stable_offsets.py: no OffsetFetch v7 (KIP-447)
    ├── UnstableOffsetsError            commands/stable_offsets.py: offsets pending too long
    ├── LeaseLostError                  poller/loop.py: the poller lease went away in a cycle
    ├── StateLoadError                  poller/state_store.py: the snapshot not read in time
    ├── KafkaUnreachableError           app/kafka.py: no broker answered at the bootstrap servers
    ├── MissingTopicsError              app/topics.py: topics the gateway needs do not exist
    ├── DemoError                       app/demo/output.py: a demo step did not come in time
    ├── CommandError                    client/errors.py: a sent command did not succeed
    │   ├── CommandResultError          its result says failed or rejected (code, fields)
    │   │   ├── CommandFailedError      the vendor refused, retries ran out, deadline passed
    │   │   └── CommandRejectedError    the gateway refused it without calling the vendor
    │   └── ResultTimeoutError          no result within the wait (retryable: same key)
    ├── VendorError                     vendor_api/errors.py: the vendor HTTP API
    │   ├── VendorTransportError        no usable answer (retryable)
    │   │   ├── VendorTimeoutError      connect/read/write/pool timeout
    │   │   ├── VendorConnectionError   refused, reset, DNS, TLS
    │   │   └── VendorHTTPError         HTTP status other than 200 (5xx and 429 retryable)
    │   ├── VendorProtocolError         an answer that is not the vendor's JSON envelope
    │   └── VendorAPIError              the vendor answered with a non-success code
    │       ├── CommonError             one class per group of the vendor's error table
    │       ├── AuthError
    │       │   ├── CredentialsError    40001
    │       │   ├── InvalidArgumentsError   40002
    │       │   └── TokenInvalidError   40003 (the token is refreshed once)
    │       ├── RoomError
    │       ├── UserError
    │       ├── SipError
    │       ├── InviteError
    │       ├── MixRecordError
    │       ├── AvcError
    │       ├── LiveError
    │       ├── LicenceError
    │       ├── MediaError
    │       ├── TransferError
    │       ├── PushStreamError
    │       ├── UploadError
    │       └── UnknownCodeError        a code the table does not list (not retryable)
    └── WebhookError                    webhooks/errors.py: a refused request (RFC 9457 problem)
        ├── BadRequestError             400 a parameter or header that cannot be read
        ├── SignatureError              401 not signed by a known sender
        ├── CommandNotFoundError        404 no such command of this sender here
        ├── RequestTimeoutError         408 the body did not arrive in time
        ├── ReplayError                 409 the webhook-id was received already
        ├── BodyTooLargeError           413 the body is over the limit
        ├── EnvelopeRejectedError       422 not a command envelope
        ├── ClientRateLimitedError      429 over the sender's (or the client address's) rate
        └── UnavailableError            503 Kafka or the replay store did not answer in time

Errors carry context as attributes (code, group, retryable) and never a secret: messages
are built from redacted values only.
"""

from __future__ import annotations

__all__ = ["GatewayError"]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    #: Whether trying the same operation again may succeed.
    retryable: bool = False
