"""The vendor's wire format: how parameters arrive and how answers look.

Parameters come from the query string on GET and from an ``application/x-www-form-urlencoded``
body on POST (query parameters are accepted on POST as well; the body wins), or from a
``multipart/form-data`` body (``/uploadfile``). Each endpoint declares its parameters with a
type; a missing required parameter answers ``40002 arg <name> required``, an unparseable one
``40002 args required or error``, a missing or invalid token ``40003``.

Answers are HTTP 200 with JSON; errors live in the body. Most endpoints answer
``{"ret": 0, "msg": "success", ...}``; three (``/room/close``, ``/room/participate/kick``,
``/room/participate/list``) answer with ``code`` (200 on success, the error code otherwise),
as the reference's examples show.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import VendorError, VendorState

__all__ = [
    "GET_ONLY",
    "GET_POST",
    "POST_ONLY",
    "VENDOR_PREFIX",
    "Answer",
    "Args",
    "EndpointTable",
    "Envelope",
    "FoldDoubleSlash",
    "Kind",
    "Param",
    "UploadedFile",
    "bad_args",
    "boolean",
    "choice",
    "integer",
    "json_list",
    "json_text",
    "ok",
    "ok_code",
    "text",
    "upload",
]

VENDOR_PREFIX = "/sdkapi/v2"
GET_POST = ("GET", "POST")
GET_ONLY = ("GET",)
POST_ONLY = ("POST",)

Args = dict[str, Any]
Answer = dict[str, Any] | Response
Handler = Callable[[VendorState, Args], Answer]

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class Kind(enum.Enum):
    """How a parameter's text is turned into a value."""

    TEXT = "string"
    INT = "int"
    BOOL = "bool"
    JSON = "json-string"
    FILE = "file"


class Envelope(enum.Enum):
    """Which key carries the result code: ``ret`` (0 = success) or ``code`` (200 = success)."""

    RET = "ret"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Param:
    """A documented parameter of an endpoint."""

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart body, read into memory."""

    filename: str
    content_type: str
    data: bytes


def text(name: str, required: bool = False, default: str | None = None) -> Param:
    """A string parameter."""
    return Param(name, Kind.TEXT, required, default)


def integer(name: str, required: bool = False, default: int | None = None) -> Param:
    """An int parameter (decimal text)."""
    return Param(name, Kind.INT, required, default)


def boolean(name: str, required: bool = False, default: bool | None = None) -> Param:
    """A bool parameter: ``true``/``false`` as documented, ``1``/``0`` accepted too."""
    return Param(name, Kind.BOOL, required, default)


def json_text(name: str, required: bool = False, default: Any = None) -> Param:
    """A parameter whose text is JSON (``videos``, ``audio_mixer_users``, ...)."""
    return Param(name, Kind.JSON, required, default)


def upload(name: str, required: bool = False) -> Param:
    """A file part of a multipart body."""
    return Param(name, Kind.FILE, required)


def ok(**fields: Any) -> dict[str, Any]:
    """The usual success answer: ``{"ret": 0, "msg": "success", **fields}``."""
    return {"ret": 0, "msg": "success", **fields}


def ok_code(**fields: Any) -> dict[str, Any]:
    """The success answer of the ``code`` endpoints: ``{"code": 200, "msg": "success", ...}``."""
    return {"code": 200, "msg": "success", **fields}


def bad_args() -> VendorError:
    """40002 for a value the vendor cannot use."""
    return VendorError(40002, "args required or error")


def choice(value: Any, allowed: Any) -> Any:
    """``value`` if it is one of ``allowed`` (or None), else 40002."""
    if value is not None and value not in allowed:
        raise bad_args()
    return value


def json_list(value: Any) -> list[Any]:
    """A parsed json-string parameter that must be a list (absent = empty); 40002 otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_args()
    return value


def _missing(name: str) -> VendorError:
    return VendorError(40002, f"arg {name} required")


def _coerce(param: Param, value: Any) -> Any:
    """The typed value of one present parameter (``None`` means: treat as absent)."""
    kind = param.kind
    if kind is Kind.FILE:
        return value if isinstance(value, UploadedFile) else None
    if not isinstance(value, str):
        raise bad_args()
    if kind is Kind.TEXT:
        return value if value or not param.required else None
    value = value.strip()
    if not value:
        return None
    if kind is Kind.INT:
        try:
            return int(value)
        except ValueError:
            raise bad_args() from None
    if kind is Kind.BOOL:
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise bad_args()
    try:
        return json.loads(value)
    except ValueError:
        raise bad_args() from None


def parse_args(params: tuple[Param, ...], raw: dict[str, Any]) -> Args:
    """Typed arguments by name; absent optional parameters get their default."""
    args: Args = {}
    for param in params:
        value = raw.get(param.name)
        typed = None if value is None else _coerce(param, value)
        if typed is None:
            if param.required:
                raise _missing(param.name)
            typed = param.default
        args[param.name] = typed
    return args


async def read_raw(request: Request) -> dict[str, Any]:
    """Parameter texts (and uploaded files) by name: query string, then the POST body."""
    # Names are stripped: the reference's own example sends "%20video_resolution".
    raw: dict[str, Any] = {k.strip(): v for k, v in request.query_params.items()}
    if request.method != "POST":
        return raw
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_MULTIPART):
        form = await request.form()
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    raw[key.strip()] = UploadedFile(
                        value.filename or "", value.content_type or "", await value.read()
                    )
                else:
                    raw[key.strip()] = value
        finally:
            await form.close()
    elif content_type.startswith(_FORM) or not content_type:
        body = await request.body()
        if body:
            text_body = body.decode("utf-8", errors="replace")
            raw.update((k.strip(), v) for k, v in parse_qsl(text_body, keep_blank_values=True))
    return raw


def error_answer(error: VendorError, envelope: Envelope) -> dict[str, Any]:
    """``{"ret"|"code": code, "msg": text, **extra}``."""
    return {envelope.value: error.code, "msg": error.msg, **error.extra}


class EndpointTable:
    """Collects the vendor endpoints of one area as Starlette routes.

    ``@table.endpoint("/room/create", text("topic", required=True), ...)`` registers a handler
    ``(state, args) -> answer``; the table does parsing, the token check and the envelope.
    """

    def __init__(self, prefix: str = VENDOR_PREFIX) -> None:
        self.prefix = prefix
        self.routes: list[Route] = []

    def endpoint(
        self,
        path: str,
        *params: Param,
        methods: tuple[str, ...] = GET_POST,
        envelope: Envelope = Envelope.RET,
        auth: bool = True,
        root: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register ``path`` (under the prefix unless ``root``) with its parameters."""

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    path if root else self.prefix + path,
                    _endpoint(handler, params, envelope, auth),
                    methods=list(methods),
                    name=path,
                )
            )
            return handler

        return register


def _endpoint(
    handler: Handler, params: tuple[Param, ...], envelope: Envelope, auth: bool
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        state: VendorState = request.app.state.vendor_state
        try:
            raw = await read_raw(request)
            if auth and not state.tokens.is_valid(raw.get("token")):
                raise VendorError(40003, "access token check invalid")
            args = parse_args(params, raw)
            state.advance()
            answer = handler(state, args)
        except VendorError as error:
            answer = error_answer(error, envelope)
        if isinstance(answer, Response):
            return answer
        return JSONResponse(answer)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


_Scope = MutableMapping[str, Any]
_ASGIApp = Callable[[_Scope, Any, Any], Awaitable[None]]
_DOUBLE_SLASH = VENDOR_PREFIX + "//"


class FoldDoubleSlash:
    """ASGI middleware serving ``/sdkapi/v2//x`` as ``/sdkapi/v2/x``: the reference's own
    example URL for ``/room/mix_live/start`` carries the double slash."""

    def __init__(self, app: _ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: Any, send: Any) -> None:
        """Rewrite the path when it has the double slash; otherwise pass through."""
        path = scope.get("path", "")
        if path.startswith(_DOUBLE_SLASH):
            scope = dict(scope)
            scope["path"] = f"{VENDOR_PREFIX}/{path[len(_DOUBLE_SLASH) :].lstrip('/')}"
        await self.app(scope, receive, send)
