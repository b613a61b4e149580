"""A result event read as the typed answer of its command, or raised as a typed error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.client.command import AnswerT, Command
from gateway.client.errors import CommandFailedError, CommandRejectedError
from gateway.messages.results import ResultData

__all__ = ["answer_of"]


def answer_of(command: Command[AnswerT], event: Mapping[str, Any]) -> AnswerT:
    """The vendor answer of a succeeded result as ``command``'s answer model; a failed result
    raises :class:`CommandFailedError`, a rejected one :class:`CommandRejectedError`."""
    data = ResultData.model_validate(event["data"])
    if data.status == "succeeded":
        return command.parse_answer(data.result)
    if data.status == "rejected":
        raise CommandRejectedError(data)
    raise CommandFailedError(data)
