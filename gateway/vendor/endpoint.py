"""What one vendor endpoint is: its path and method, its request and answer models.

The generated modules in ``gateway/vendor/endpoints/`` instantiate :class:`Endpoint` once per
vendor path. Request models hold the parameters exactly as the vendor names them (without
``token``, which the client adds); ``to_form`` turns them into the vendor's wire values.
"""

from __future__ import annotations

import json
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
    "to_form",
]

# The vendor's "json string" parameters (videos, audio_mixer_users, ...) take a JSON array or
# object; the client serialises it. A str is taken as JSON text the caller already wrote.
JsonParam = JsonValue


class UploadFile(BaseModel):
    """A file for ``/uploadfile``: the bytes and the name the vendor stores it under."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={len(self.content)})"


class VendorRequest(BaseModel):
    """Base of every request model: unknown fields are errors, so typos are caught early."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _json_text_must_parse(cls, value: Any, info: Any) -> Any:
        # A str given for a json-string parameter must already be valid JSON text.
        field = cls.model_fields[info.field_name]
        extra = field.json_schema_extra
        if (
            isinstance(value, str)
            and isinstance(extra, dict)
            and str(extra.get("x-vendor-type", "")).startswith("json")
        ):
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


def to_form(request: VendorRequest) -> tuple[dict[str, str], dict[str, UploadFile]]:
    """Split a request into wire parameters (text) and files; unset parameters are not sent."""
    params: dict[str, str] = {}
    files: dict[str, UploadFile] = {}
    for name, field in type(request).model_fields.items():
        value = getattr(request, name)
        if value is None:
            continue
        if isinstance(value, UploadFile):
            files[name] = value
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        json_param = str(extra.get("x-vendor-type", "")).startswith("json")
        params[name] = _wire_value(value, json_param)
    return params, files
