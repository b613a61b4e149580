"""FileUpload without I/O: the payload's one source, the inline file decoded within its cap,
a source_url checked and left pending until the claim, and the vendor request built from
either."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway.commands.upload import (
    FileUploadPayload,
    PendingUpload,
    SourcePolicy,
    UploadSourceError,
    build_upload_request,
    prepare_upload,
)
from gateway.vendor_api.generated.endpoints.upload import FileUploadRequest

NO_SOURCES = SourcePolicy()  # source_url off, as by default
FILES = SourcePolicy(hosts=("files.test",))


def _payload(**fields: Any) -> FileUploadPayload:
    return FileUploadPayload.model_validate({"filename": "a.png", **fields})


def _inline(content: bytes, **fields: Any) -> FileUploadPayload:
    return _payload(content_base64=base64.b64encode(content).decode(), **fields)


@pytest.mark.parametrize(
    "sources",
    [{}, {"content_base64": "eA==", "source_url": "https://files.test/a.png"}],
    ids=["neither", "both"],
)
def test_a_payload_has_exactly_one_source(sources: dict[str, str]) -> None:
    """content_base64 or source_url, never both, never none."""
    with pytest.raises(ValidationError, match="exactly one of content_base64 and source_url"):
        _payload(**sources)


def test_inline_content_becomes_the_vendor_request() -> None:
    """The decoded bytes, the name, the type and the storage options reach the request."""
    payload = _inline(
        b"\x89PNG data",
        content_type="image/png",
        path="/opt/data/resources",
        storage_only_cluster=True,
    )
    request = build_upload_request(payload, inline_max=100)
    assert isinstance(request, FileUploadRequest)
    assert request.file.content == b"\x89PNG data"
    assert (request.file.filename, request.file.content_type) == ("a.png", "image/png")
    assert (request.path, request.storage_only_cluster) == ("/opt/data/resources", True)


def test_inline_content_at_the_cap_passes_and_far_above_is_refused() -> None:
    """A file of inline_max bytes passes; a bigger one is refused before it is decoded."""
    assert build_upload_request(_inline(b"x" * 300), inline_max=300).file.content == b"x" * 300
    with pytest.raises(UploadSourceError, match="larger than 300 bytes") as caught:
        build_upload_request(_inline(b"x" * 400), inline_max=300)
    assert caught.value.field == "content_base64"


@pytest.mark.parametrize("over", [1, 3])
def test_inline_content_just_over_the_cap_is_refused(over: int) -> None:
    """Never a byte past the cap (README: content_base64 up to UPLOAD_INLINE_MAX_BYTES)."""
    with pytest.raises(UploadSourceError):
        build_upload_request(_inline(b"x" * (300 + over)), inline_max=300)


@pytest.mark.parametrize("text", ["not base64!", "eA=", "e A=="])
def test_inline_content_that_is_not_base64_is_refused(text: str) -> None:
    """Strict base64 only: no stray characters, padding or whitespace."""
    with pytest.raises(UploadSourceError, match="not valid base64") as caught:
        build_upload_request(_payload(content_base64=text), inline_max=100)
    assert caught.value.field == "content_base64"


def test_building_inline_from_a_source_url_payload_is_refused() -> None:
    """A source_url payload has no inline content to build from."""
    with pytest.raises(UploadSourceError, match="content_base64 is missing"):
        build_upload_request(_payload(source_url="https://files.test/a.png"), inline_max=100)


def test_prepare_decodes_inline_content_whatever_the_source_policy() -> None:
    """Inline files need no source policy: they are ready at once."""
    prepared = prepare_upload(_inline(b"abc"), NO_SOURCES, inline_max=100)
    assert isinstance(prepared, FileUploadRequest)
    assert prepared.file.content == b"abc"


def test_prepare_checks_a_source_url_and_leaves_it_pending() -> None:
    """A source_url is checked against the policy (no I/O) and fetched later, under the claim;
    the request then streams the fetched file."""
    payload = _payload(source_url="https://files.test/dir/a.png", path="/opt/data")
    prepared = prepare_upload(payload, FILES, inline_max=100)
    assert isinstance(prepared, PendingUpload)
    assert prepared.url == httpx.URL("https://files.test/dir/a.png")
    fetched = io.BytesIO(b"fetched bytes")
    request = prepared.request(fetched)
    assert request.file.content is fetched
    assert (request.file.filename, request.path) == ("a.png", "/opt/data")


@pytest.mark.parametrize(
    ("policy", "url", "reason"),
    [
        (NO_SOURCES, "https://files.test/a.png", "not enabled"),
        (FILES, "http://files.test/a.png", "must use https"),
        (FILES, "https://other.test/a.png", "not one this gateway fetches from"),
    ],
)
def test_prepare_refuses_a_source_url_the_policy_does_not_allow(
    policy: SourcePolicy, url: str, reason: str
) -> None:
    """The refusal comes before any claim or download."""
    with pytest.raises(UploadSourceError, match=reason) as caught:
        prepare_upload(_payload(source_url=url), policy, inline_max=100)
    assert caught.value.field == "source_url"
