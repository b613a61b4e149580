"""FileUpload: a file cannot ride inside a Kafka message, so it comes inline or by reference.

The payload names the file inline (``content_base64``, capped by a setting) or by reference
(``source_url``: the claim-check pattern, streamed from http(s) with the same cap on what is
read), plus ``filename``, ``path`` and ``storage_only_cluster`` as the vendor documents them.
"""

from __future__ import annotations

import base64
import binascii

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from gateway.errors import GatewayError
from gateway.vendor.endpoint import UploadFile
from gateway.vendor.endpoints.upload import FileUploadRequest

__all__ = ["FileUploadPayload", "UploadSourceError", "build_upload_request"]


class UploadSourceError(GatewayError):
    """The file could not be read from its inline content or its source URL."""


class FileUploadPayload(BaseModel):
    """The Kafka payload of FileUpload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str = Field(min_length=1, description="name the vendor stores the file under")
    content_base64: str | None = Field(None, description="the file, base64 (small files)")
    source_url: HttpUrl | None = Field(None, description="http(s) address to stream the file from")
    content_type: str = "application/octet-stream"
    path: str | None = Field(
        None, description="vendor storage path (vendor default /opt/data/resources)"
    )
    storage_only_cluster: bool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FileUploadPayload:
        if (self.content_base64 is None) == (self.source_url is None):
            raise ValueError("give exactly one of content_base64 and source_url")
        return self


async def build_upload_request(
    payload: FileUploadPayload, http: httpx.AsyncClient, inline_max: int, source_max: int
) -> FileUploadRequest:
    """Read the file, decoding or streaming it, never past its cap."""
    if payload.content_base64 is not None:
        if len(payload.content_base64) > (inline_max * 4) // 3 + 4:
            raise UploadSourceError(f"content_base64 is larger than {inline_max} bytes")
        try:
            content = base64.b64decode(payload.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise UploadSourceError("content_base64 is not valid base64") from None
    else:
        content = await _download(str(payload.source_url), http, source_max)
    return FileUploadRequest(
        file=UploadFile(
            filename=payload.filename, content=content, content_type=payload.content_type
        ),
        path=payload.path,
        storage_only_cluster=payload.storage_only_cluster,
    )


async def _download(url: str, http: httpx.AsyncClient, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise UploadSourceError(f"source_url answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise UploadSourceError(f"source_url is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise UploadSourceError(f"source_url could not be read: {type(exc).__name__}") from None
    return b"".join(chunks)
