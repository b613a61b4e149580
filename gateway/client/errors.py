"""Errors of :class:`gateway.client.Commands`: the command's result was not a success.

``CommandFailedError`` and ``CommandRejectedError`` carry the result event's ``error`` (its
class, code, message, fields and whether a retry may help); ``ResultTimeoutError`` means no
result came within the wait, which says nothing about whether the command was done.
"""

from __future__ import annotations

from gateway.errors import GatewayError
from gateway.messages.results import ErrorInfo, ResultData

__all__ = [
    "CommandError",
    "CommandFailedError",
    "CommandRejectedError",
    "CommandResultError",
    "ResultTimeoutError",
]


class CommandError(GatewayError):
    """A command sent with :meth:`Commands.send` did not come back as a success."""

    def __init__(self, message: str, *, command_id: str, command_type: str) -> None:
        super().__init__(message)
        self.command_id = command_id
        self.command_type = command_type


class CommandResultError(CommandError):
    """A failed or rejected result: the fields of its ``data.error``."""

    def __init__(self, data: ResultData) -> None:
        error = data.error or ErrorInfo(error_class="Unknown", message="no error in the result")
        super().__init__(
            f"{data.command_type} {data.status}: {error.error_class}: {error.message}",
            command_id=data.command_id,
            command_type=data.command_type,
        )
        self.result = data
        self.error_class = error.error_class
        self.reason = error.message
        self.code = error.code
        self.group = error.group
        self.fields = error.fields or []
        self.retryable = error.retryable


class CommandFailedError(CommandResultError):
    """The vendor refused (``code`` is its code), retries ran out, or the deadline passed."""


class CommandRejectedError(CommandResultError):
    """The gateway refused the command without calling the vendor (``fields`` says why)."""


class ResultTimeoutError(CommandError):
    """No result within the wait. The command may still be done: sending it again with the
    same idempotency key is safe (a mutation done already is answered from its stored
    outcome), hence retryable."""

    retryable = True

    def __init__(
        self, *, command_id: str, command_type: str, idempotency_key: str, waited_s: float
    ) -> None:
        super().__init__(
            f"no result for {command_type} {command_id} within {waited_s:g} s",
            command_id=command_id,
            command_type=command_type,
        )
        self.idempotency_key = idempotency_key
        self.waited_s = waited_s
