"""A command's vendor request: validated first, and for a source_url upload, fetched later.

Validation does no I/O, so a bad payload is rejected before any claim or vendor call. A
FileUpload ``source_url`` is fetched only once the command holds its idempotency claim (a
replay never downloads), in an upload slot held until the vendor call is over.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from gateway.commands import results
from gateway.commands.upload import (
    FileUploadPayload,
    PendingUpload,
    SourcePolicy,
    UploadSlotTimeoutError,
    UploadSourceError,
    UploadSources,
    prepare_upload,
)
from gateway.messages.envelope import CommandEnvelope, field_errors
from gateway.messages.results import ResultData
from gateway.vendor_api import Endpoint, VendorRequest

__all__ = ["build_request", "ready_request"]


def build_request(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    upload_source: SourcePolicy,
    upload_inline_max: int,
) -> VendorRequest | PendingUpload | ResultData:
    """The validated request (a source_url still pending), or the rejection naming the fields."""
    try:
        if command.type == "FileUpload":
            payload = FileUploadPayload.model_validate(command.payload)
            return prepare_upload(payload, upload_source, upload_inline_max)
        request: VendorRequest = endpoint.request_model.model_validate(command.payload)
        return request
    except ValidationError as exc:
        return results.rejected(
            command,
            endpoint,
            "InvalidPayload",
            f"payload does not match {endpoint.path}",
            field_errors(exc, "payload."),
        )
    except UploadSourceError as exc:
        return results.rejected(
            command,
            endpoint,
            "InvalidPayload",
            str(exc),
            [{"field": f"payload.{exc.field}", "reason": str(exc)}],
        )


@contextlib.asynccontextmanager
async def ready_request(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    request: VendorRequest | PendingUpload,
    uploads: UploadSources,
) -> AsyncIterator[VendorRequest | ResultData]:
    """The request ready to send, or (the file could not be had) the command's failure.

    A source_url file is fetched here within the deadline, in an upload slot held until the
    block ends, and deleted after it. A failure means the vendor was not called."""
    if not isinstance(request, PendingUpload):
        yield request
        return
    deadline = command.deadline_ts
    async with contextlib.AsyncExitStack() as held:
        try:
            await held.enter_async_context(uploads.slot(deadline))
            file = held.enter_context(await uploads.fetch(request.url, deadline))
        except UploadSlotTimeoutError as exc:
            failure = results.failed(command, endpoint, "DeadlineExpired", str(exc), attempts=0)
        except UploadSourceError as exc:
            failure = results.failed(command, endpoint, "UploadSourceError", str(exc), attempts=0)
        else:
            yield request.request(file)
            return
    yield failure  # after the slot is given back
