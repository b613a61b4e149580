"""The result of a command, built in one place for every way a command can end.

Every result names the command (id, type, effective idempotency key) and the vendor path it
maps to; the builders below add how it ended. A rejection is the command's own fault (the
envelope, the payload, a reused key): retrying it cannot help. A failure is the vendor's or
time's (a vendor error, the deadline, a source_url that could not be fetched).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.commands.outbound import clip
from gateway.errors import GatewayError
from gateway.messages.envelope import CommandEnvelope, InvalidEnvelopeError
from gateway.messages.results import ErrorInfo, ResultData, VendorStatus
from gateway.vendor_api import Endpoint
from gateway.vendor_api.errors import VendorAPIError

__all__ = [
    "deadline_expired",
    "failed",
    "invalid_envelope",
    "reconciled",
    "rejected",
    "replayed",
    "succeeded",
    "vendor_failed",
]


def _result(
    command: CommandEnvelope, endpoint: Endpoint[Any, Any] | None, **fields: Any
) -> ResultData:
    return ResultData(
        command_id=command.id,
        command_type=command.type,
        idempotency_key=command.effective_idempotency_key,
        endpoint=endpoint.path if endpoint else None,
        **fields,
    )


def rejected(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any] | None,
    error_class: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
) -> ResultData:
    """The command itself is wrong (``fields`` name what and why)."""
    error = ErrorInfo(error_class=error_class, message=message, fields=fields)
    return _result(command, endpoint, status="rejected", error=error)


def invalid_envelope(exc: InvalidEnvelopeError) -> ResultData:
    """The envelope is wrong, so there is no command to name: its id, and its type as far as
    it can be read (cut, since it is the sender's text)."""
    raw_type = exc.raw.get("type")
    return ResultData(
        command_id=exc.command_id,
        command_type=clip(raw_type) if isinstance(raw_type, str) else "",
        idempotency_key=None,
        status="rejected",
        endpoint=None,
        error=ErrorInfo(error_class="InvalidEnvelope", message=exc.reason, fields=exc.fields),
    )


def failed(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    error_class: str,
    message: str,
    attempts: int,
) -> ResultData:
    """The command failed for a reason of the gateway's own (a deadline, a source_url)."""
    error = ErrorInfo(error_class=error_class, message=message)
    return _result(command, endpoint, status="failed", error=error, attempts=attempts)


def deadline_expired(
    command: CommandEnvelope, endpoint: Endpoint[Any, Any], when: str
) -> ResultData:
    """The deadline passed before the vendor was called (``when`` says at which step)."""
    return failed(command, endpoint, "DeadlineExpired", f"the deadline passed {when}", 0)


def succeeded(
    command: CommandEnvelope, endpoint: Endpoint[Any, Any], body: dict[str, Any], attempts: int
) -> ResultData:
    """The vendor's answer: its ``ret``/``msg`` as the vendor status, the rest as the result."""
    vendor = VendorStatus(ret=body.pop("ret", 0), msg=body.pop("msg", None))
    body.pop("code", None)
    return _result(
        command, endpoint, status="succeeded", vendor=vendor, result=body, attempts=attempts
    )


def vendor_failed(
    command: CommandEnvelope, endpoint: Endpoint[Any, Any], exc: GatewayError, attempts: int
) -> ResultData:
    """The vendor refused (its code, documented meaning and details) or could not be reached."""
    if isinstance(exc, VendorAPIError):
        return _result(
            command,
            endpoint,
            status="failed",
            vendor=VendorStatus(ret=exc.code, msg=exc.vendor_msg),
            error=ErrorInfo(
                error_class=type(exc).__name__,
                message=str(exc),
                code=exc.code,
                documented=exc.documented,
                group=exc.group,
                retryable=exc.retryable,
                details=exc.details or None,
            ),
            attempts=attempts,
        )
    error = ErrorInfo(error_class=type(exc).__name__, message=str(exc), retryable=exc.retryable)
    return _result(command, endpoint, status="failed", error=error, attempts=attempts)


def reconciled(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    vendor: VendorStatus,
    state: dict[str, Any] | None,
    attempts: int,
) -> ResultData:
    """The vendor had already done the work of an earlier, unfinished delivery."""
    return _result(
        command,
        endpoint,
        status="succeeded",
        vendor=vendor,
        result={"reconciled": True, "state": state},
        attempts=attempts,
    )


def replayed(command: CommandEnvelope, outcome: Mapping[str, Any]) -> ResultData:
    """A stored outcome, answered again under this delivery's command id."""
    return ResultData.model_validate(
        {**outcome, "command_id": command.id, "replayed": True, "attempts": 0}
    )
