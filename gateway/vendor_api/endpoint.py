"""What one vendor endpoint is: its path and method, its request and answer models.

The generated modules in ``gateway/vendor_api/generated/endpoints/`` instantiate
:class:`Endpoint` once per vendor path. Request models hold the parameters exactly as the
vendor names them (without ``token``, which the client adds); ``to_form`` turns them into the
vendor's wire values.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, SecretStr, field_validator

__all__ = [
    "AnswerT",
    "Endpoint",
    "JsonParam",
    "RequestT",
    "UploadFile",
    "VendorAnswer",
    "VendorRequest",
    "check_filename",
    "check_mime_type",
    "has_control_characters",
    "to_form",
]

# The vendor's "json string" parameters (videos, audio_mixer_users, ...) take a JSON array or
# object; the client serialises it. A str is taken as JSON text the caller already wrote.
JsonParam = JsonValue


# A MIME type as RFC 9110 writes it: type "/" subtype, tokens only, optional ``; name=value``
# parameters (token or quoted string without quotes, backslashes or control characters).
_TCHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MIME_TYPE = re.compile(
    rf"{_TCHARS}/{_TCHARS}(?:[ \t]*;[ \t]*{_TCHARS}=(?:{_TCHARS}|\"[ !#-\[\]-~]*\"))*"
)
_MIME_TYPE_MAX = 255
_FILENAME_MAX = 255  # bytes, UTF-8: what common file systems store
# Unicode categories refused in names: controls, format characters (bidi overrides), separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control or format character (CR, LF, NUL, bidi overrides...)."""
    return any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in text)


def check_mime_type(value: str) -> str:
    """``value`` if it is a plain MIME type (``image/png``, ``text/plain; charset=utf-8``);
    ValueError otherwise, so that nothing but a MIME type reaches a multipart header."""
    if len(value) > _MIME_TYPE_MAX or _MIME_TYPE.fullmatch(value) is None:
        raise ValueError("must be a MIME type such as image/png")
    return value


def check_filename(value: str) -> str:
    """``value`` if it is a bare file name: no "/", "\\", "..", control characters; ValueError
    otherwise."""
    if not value or len(value.encode("utf-8")) > _FILENAME_MAX:
        raise ValueError(f"must be 1 to {_FILENAME_MAX} bytes")
    if "/" in value or "\\" in value:
        raise ValueError("must be a bare file name, without / or \\")
    if ".." in value or value.strip() in ("", "."):
        raise ValueError('must not contain ".." or be "."')
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


class UploadFile(BaseModel):
    """A file for ``/uploadfile``: its content and the name the vendor stores it under.

    The content is bytes (small files) or an open binary file positioned anywhere: it is
    streamed from its start, again on every attempt, and never read whole into memory. The
    file stays the caller's to close.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    filename: str
    content: bytes | io.BufferedIOBase
    content_type: str = "application/octet-stream"

    @field_validator("filename")
    @classmethod
    def _bare_filename(cls, value: str) -> str:
        return check_filename(value)

    @field_validator("content_type")
    @classmethod
    def _mime_type(cls, value: str) -> str:
        return check_mime_type(value)

    @property
    def size(self) -> int:
        """The content's length in bytes."""
        if isinstance(self.content, bytes):
            return len(self.content)
        position = self.content.tell()
        end = self.content.seek(0, os.SEEK_END)
        self.content.seek(position)
        return end

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={self.size})"


class VendorRequest(BaseModel):
    """Base of every request model: unknown fields are errors, so typos are caught early."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _json_text_must_parse(cls, value: Any, info: Any) -> Any:
        # A str given for a json-string parameter must already be valid JSON text.
        if isinstance(value, str) and info.field_name in _json_params(cls):
            json.loads(value)
        return value


class VendorAnswer(BaseModel):
    """Base of every answer model: the normalised result code and message, plus any field."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ret: int = 0
    msg: str | None = None


RequestT = TypeVar("RequestT", bound="VendorRequest")
AnswerT = TypeVar("AnswerT", bound="VendorAnswer")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[RequestT, AnswerT]):
    """One vendor endpoint and how to call it."""

    path: str
    methods: tuple[str, ...]
    method: Literal["GET", "POST"]
    encoding: Literal["query", "form", "multipart"]
    at_root: bool
    needs_token: bool
    command_type: str
    kind: Literal["mutation", "query"]
    is_command: bool
    request_model: type[RequestT]
    response_model: type[AnswerT]
    skipped_params: tuple[str, ...] = ()

    @property
    def url_path(self) -> str:
        """The path on the vendor's server: root-level paths stay, the rest go under /sdkapi/v2."""
        return self.path if self.at_root else f"/sdkapi/v2{self.path}"


def _wire_value(value: Any, json_param: bool) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if json_param and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@functools.cache
def _json_params(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a request model that are json-string parameters (read once per model:
    pydantic's ``model_fields`` is rebuilt on every access)."""
    names = set()
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if str(extra.get("x-vendor-type", "")).startswith("json"):
            names.add(name)
    return frozenset(names)


@functools.cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def to_form(request: VendorRequest) -> tuple[dict[str, str], dict[str, UploadFile]]:
    """Split a request into wire parameters (text) and files; unset parameters are not sent."""
    params: dict[str, str] = {}
    files: dict[str, UploadFile] = {}
    model = type(request)
    json_params = _json_params(model)
    for name in _field_names(model):
        value = getattr(request, name)
        if value is None:
            continue
        if isinstance(value, UploadFile):
            files[name] = value
            continue
        params[name] = _wire_value(value, name in json_params)
    return params, files
