"""Errors of the vendor boundary, built from the vendor's error-code table.

::

    VendorError (GatewayError)
    ├── VendorTransportError            retryable: the request got no usable answer
    │   ├── VendorTimeoutError          connect/read/write/pool timeout
    │   ├── VendorConnectionError       refused, reset, DNS, TLS
    │   └── VendorHTTPError             HTTP status other than 200 (5xx and 429 retryable)
    ├── VendorProtocolError             HTTP 200 but not a JSON object
    └── VendorAPIError                  the vendor answered ret/code != success
        ├── one subclass per group of the table: CommonError, AuthError (TokenInvalidError,
        │   CredentialsError, InvalidArgumentsError), RoomError, UserError, SipError,
        │   InviteError, MixRecordError, AvcError, LiveError, LicenceError, MediaError,
        │   TransferError, PushStreamError, UploadError
        └── UnknownCodeError            a code the table does not list (kept, not retryable)

``error_for_code`` is the one place a code becomes a class (stripe-python's
``specific_v1_api_error`` habit). Transient codes are the common-group faults (41001 redis,
41002 mysql, 41003 timeout, 41005 internal) and the "connect shut down / rpc down" codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from gateway.errors import GatewayError

__all__ = [
    "RETRYABLE_CODES",
    "AuthError",
    "AvcError",
    "CodeInfo",
    "CommonError",
    "CredentialsError",
    "InvalidArgumentsError",
    "InviteError",
    "LicenceError",
    "LiveError",
    "MediaError",
    "MixRecordError",
    "PushStreamError",
    "RoomError",
    "SipError",
    "TokenInvalidError",
    "TransferError",
    "UnknownCodeError",
    "UploadError",
    "UserError",
    "VendorAPIError",
    "VendorConnectionError",
    "VendorError",
    "VendorHTTPError",
    "VendorProtocolError",
    "VendorTimeoutError",
    "VendorTransportError",
    "code_table",
    "error_for_code",
]

# Transient vendor faults: worth another attempt after a pause.
RETRYABLE_CODES = frozenset(
    {
        41001,  # redis error
        41002,  # mysql error
        41003,  # http server request timeout
        41005,  # internal error
        40035,  # connect shut down, invite refused or check service port
        40042,  # rpc connect down, check stream_exporter service port
        40064,  # connect shut down, check service (live)
        40083,  # connect shut down, check service status (media)
        40104,  # connect shut down, check service status (push stream)
    }
)


class VendorError(GatewayError):
    """Something went wrong talking to the vendor."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint

    @property
    def error_class(self) -> str:
        """A stable name for results, metrics and DLQ headers."""
        return type(self).__name__


class VendorTransportError(VendorError):
    """No usable answer came back; the request may or may not have reached the vendor."""

    retryable = True


class VendorTimeoutError(VendorTransportError):
    """The vendor did not answer in time."""


class VendorConnectionError(VendorTransportError):
    """The connection could not be made or broke."""


class VendorHTTPError(VendorTransportError):
    """The vendor's server answered with an HTTP status other than 200."""

    def __init__(self, status: int, *, endpoint: str | None = None) -> None:
        super().__init__(f"vendor answered HTTP {status}", endpoint=endpoint)
        self.status = status
        # 5xx and 429 are the server's trouble and pass; 4xx is ours and will not.
        self.retryable = status >= 500 or status == 429


class VendorProtocolError(VendorError):
    """HTTP 200, but the body is not the vendor's JSON envelope."""


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of the vendor's error table."""

    code: int
    message: str
    group: str


class VendorAPIError(VendorError):
    """The vendor answered with a non-success code."""

    group = "unknown"

    def __init__(
        self,
        code: int,
        vendor_msg: str | None,
        *,
        documented: str | None = None,
        endpoint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.vendor_msg = vendor_msg
        self.documented = documented
        # Other fields of the answer (e.g. failed_record_list of /room/mix_live/stop).
        self.details = details or {}
        self.retryable = code in RETRYABLE_CODES and not _permanent(vendor_msg)
        where = f" from {endpoint}" if endpoint else ""
        super().__init__(
            f"vendor error {code}{where}: {vendor_msg or documented}", endpoint=endpoint
        )


def _permanent(vendor_msg: str | None) -> bool:
    # 41005 "internal error" is transient, except where the vendor uses it for a missing
    # entity ("Internal server error:room not found or opened" on /room/close, "...room not
    # found" on /room/participate/list, "not found record info!" on /web_record/stop): a
    # retry cannot make the room or record appear.
    return vendor_msg is not None and "not found" in vendor_msg.lower()


class CommonError(VendorAPIError):
    group = "common"


class AuthError(VendorAPIError):
    group = "auth"


class CredentialsError(AuthError):
    """40001: access key or secret key refused."""


class InvalidArgumentsError(AuthError):
    """40002: arguments missing or wrong."""


class TokenInvalidError(AuthError):
    """40003: token invalid or expired; the client refreshes it once."""


class RoomError(VendorAPIError):
    group = "room"


class UserError(VendorAPIError):
    group = "user"


class SipError(VendorAPIError):
    group = "sip/gate"


class InviteError(VendorAPIError):
    group = "invite"


class MixRecordError(VendorAPIError):
    group = "mix/desktop_record"


class AvcError(VendorAPIError):
    group = "avc"


class LiveError(VendorAPIError):
    group = "live"


class LicenceError(VendorAPIError):
    group = "licence"


class MediaError(VendorAPIError):
    group = "media"


class TransferError(VendorAPIError):
    group = "transfer"


class PushStreamError(VendorAPIError):
    group = "push-stream"


class UploadError(VendorAPIError):
    group = "upload"


class UnknownCodeError(VendorAPIError):
    """A code the vendor's table does not list: kept as is, never retried."""


_BY_GROUP: dict[str, type[VendorAPIError]] = {
    cls.group: cls
    for cls in (
        CommonError,
        AuthError,
        RoomError,
        UserError,
        SipError,
        InviteError,
        MixRecordError,
        AvcError,
        LiveError,
        LicenceError,
        MediaError,
        TransferError,
        PushStreamError,
        UploadError,
    )
}
_BY_CODE: dict[int, type[VendorAPIError]] = {
    40001: CredentialsError,
    40002: InvalidArgumentsError,
    40003: TokenInvalidError,
}


@cache
def code_table() -> dict[int, CodeInfo]:
    """The vendor error table from the packaged spec (a duplicated code keeps both texts)."""
    spec = json.loads(
        resources.files("gateway.vendor_api").joinpath("spec/endpoints.json").read_text("utf-8")
    )
    table: dict[int, CodeInfo] = {}
    for row in spec["error_codes"]:
        code = int(row["code"])
        if code in table:  # 40038 is printed twice with two meanings
            prev = table[code]
            table[code] = CodeInfo(code, f"{prev.message} / {row['message']}", prev.group)
        else:
            table[code] = CodeInfo(code, row["message"], row["group"])
    return table


def error_for_code(
    code: int,
    vendor_msg: str | None,
    endpoint: str | None = None,
    details: dict[str, Any] | None = None,
) -> VendorAPIError:
    """Map a vendor result code to its typed error."""
    info = code_table().get(code)
    if info is None:
        return UnknownCodeError(code, vendor_msg, endpoint=endpoint, details=details)
    cls = _BY_CODE.get(code) or _BY_GROUP.get(info.group, UnknownCodeError)
    return cls(code, vendor_msg, documented=info.message, endpoint=endpoint, details=details)
