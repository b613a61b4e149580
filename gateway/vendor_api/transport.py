"""The HTTP leg to the vendor: one pooled aiohttp session per account; its errors translated
here, once.

aiohttp rather than httpx for this leg, because every command crosses it: at in-flight 64 it
costs about 0.15 ms of CPU per request where httpx 0.28 on httpcore costs 1 ms (5 ms when its
pool keeps 64 connections alive; ``bench/profile_commands.py`` and docs/benchmarks.md have the
profiles). The gateway's other HTTP clients (source_url downloads, the CLI) stay on httpx.

Nothing outside ``gateway/vendor_api/`` sees an aiohttp exception: :func:`translated_errors`
maps them to :mod:`gateway.vendor_api.errors`, with messages built from the endpoint path
only, never the URL (which may carry the token).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pydantic_core
from opentelemetry.trace import Span, SpanKind, StatusCode
from yarl import URL

from gateway.redaction import RedactingFilter
from gateway.settings import VendorSettings
from gateway.telemetry.metrics import VENDOR_LATENCY, VENDOR_REQUESTS, child
from gateway.telemetry.tracing import span
from gateway.vendor_api.endpoint import Endpoint, UploadFile
from gateway.vendor_api.errors import (
    VendorConnectionError,
    VendorError,
    VendorHTTPError,
    VendorProtocolError,
    VendorTimeoutError,
    VendorTransportError,
)

__all__ = [
    "USER_AGENT",
    "HttpLimits",
    "VendorTransport",
    "normalise_answer",
    "translated_errors",
]

log = logging.getLogger("gateway.vendor_api")

USER_AGENT = "vendor-gateway/0.1"
_FORM = {"content-type": "application/x-www-form-urlencoded"}

_redacting = RedactingFilter()


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Connection pool limits and timeouts of an account's HTTP session (no defaults: they are
    settings, :class:`~gateway.settings.VendorSettings`)."""

    connect_timeout_s: float
    read_timeout_s: float
    write_timeout_s: float
    pool_timeout_s: float
    max_connections: int
    keepalive_s: float

    @classmethod
    def from_settings(cls, settings: VendorSettings) -> HttpLimits:
        """The limits an account's settings give."""
        return cls(
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            write_timeout_s=settings.write_timeout_s,
            pool_timeout_s=settings.pool_timeout_s,
            max_connections=settings.max_connections,
            keepalive_s=settings.keepalive_s,
        )

    def timeout(self) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts: a free pooled connection plus a new one within ``connect``; each
        read within ``sock_read``. No overall bound: a form body of a few hundred bytes cannot
        stall in a write (it fits the socket buffer), and a timer per request is measurable."""
        return aiohttp.ClientTimeout(
            total=None,
            connect=self.pool_timeout_s + self.connect_timeout_s,
            sock_connect=self.connect_timeout_s,
            sock_read=self.read_timeout_s,
        )

    def upload_timeout(self) -> aiohttp.ClientTimeout:
        """A multipart upload's: as :meth:`timeout`, and aiohttp times no write, so the whole
        request is bounded by the sum of the four (a write that stalls ends there)."""
        return aiohttp.ClientTimeout(
            total=(
                self.pool_timeout_s
                + self.connect_timeout_s
                + self.write_timeout_s
                + self.read_timeout_s
            ),
            connect=self.pool_timeout_s + self.connect_timeout_s,
            sock_connect=self.connect_timeout_s,
            sock_read=self.read_timeout_s,
        )


class _TranslatedErrors:
    """The context manager :func:`translated_errors` returns (a class: it is on every request,
    and a generator-based one costs several times more)."""

    __slots__ = ("_endpoint",)

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            return
        endpoint = self._endpoint
        message = f"{type(exc).__name__} calling {endpoint}"
        if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
            raise VendorTimeoutError(message, endpoint=endpoint) from None
        if isinstance(
            exc,
            (
                aiohttp.ClientConnectionError,
                aiohttp.ClientPayloadError,
                aiohttp.ClientResponseError,  # a malformed answer (status line, headers, framing)
            ),
        ):
            raise VendorConnectionError(message, endpoint=endpoint) from None
        if isinstance(exc, aiohttp.ClientError):
            raise VendorTransportError(message, endpoint=endpoint) from None


def translated_errors(endpoint: str) -> _TranslatedErrors:
    """Turn aiohttp exceptions into vendor transport errors; drop the original (it has the URL)."""
    return _TranslatedErrors(endpoint)


def normalise_answer(body: dict[str, Any]) -> dict[str, Any]:
    """Give every answer a ``ret``: 0 on success, the vendor code otherwise.

    Most endpoints answer ``ret`` (0 = success). ``/room/close``, ``/room/participate/kick`` and
    ``/room/participate/list`` answer ``code`` instead, with 200 for success; and the documented
    success of ``/room/get_statistic`` has neither, so an answer without either is a success.
    """
    if "ret" in body:
        ret = body["ret"]
    elif "code" in body:
        ret = 0 if body["code"] in (200, "200") else body["code"]
    else:
        ret = 0
    try:
        body["ret"] = int(ret)
    except (TypeError, ValueError):
        raise VendorProtocolError(f"non-numeric result code {ret!r}") from None
    return body


def _multipart(params: Mapping[str, str], files: Mapping[str, UploadFile]) -> aiohttp.FormData:
    """A multipart body: the fields, then each file (bytes, or an open file aiohttp streams,
    from its start: a retried attempt sends it whole again)."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in params.items():
        form.add_field(name, value)
    for name, file in files.items():
        content = file.content
        if not isinstance(content, bytes):
            content.seek(0)
        form.add_field(name, content, filename=file.filename, content_type=file.content_type)
    return form


class VendorTransport:
    """Sends one request to the vendor and returns its JSON answer, normalised.

    The aiohttp session is made on the first request (aiohttp wants a running loop) and kept:
    its pool holds up to ``max_connections`` keep-alive connections, each idle one for
    ``keepalive_s``. No cookie jar (the vendor sets none; a jar would be parsed on every
    answer) and no proxy from the environment.
    """

    def __init__(self, base_url: str, limits: HttpLimits, *, user_agent: str = USER_AGENT) -> None:
        self.base_url = base_url.rstrip("/")
        self._host = URL(self.base_url).host or ""
        self._limits = limits
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}
        # Nothing here logs a URL; the filter keeps it so should aiohttp ever start to.
        for name in ("aiohttp.client", "aiohttp.internal"):
            logger = logging.getLogger(name)
            if _redacting not in logger.filters:
                logger.addFilter(_redacting)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._limits.max_connections,
                    keepalive_timeout=self._limits.keepalive_s,
                ),
                timeout=self._limits.timeout(),
                headers={"user-agent": self._user_agent},
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        endpoint: Endpoint[Any, Any],
        params: Mapping[str, str],
        files: Mapping[str, UploadFile] | None = None,
    ) -> dict[str, Any]:
        """POST a form (or multipart) body where allowed; GET with a query otherwise."""
        with span(
            f"{endpoint.method} {endpoint.path}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": endpoint.method,
                "url.path": endpoint.url_path,  # never the query: it may hold the token
                "server.address": self._host,
                "vendor.endpoint": endpoint.path,
            },
        ) as current:
            started = time.perf_counter()
            try:
                body = await self._send(endpoint, params, files, current)
            except VendorError as exc:
                child(VENDOR_REQUESTS, endpoint.path, exc.error_class).inc()
                current.set_status(StatusCode.ERROR, exc.error_class)
                raise
            finally:
                child(VENDOR_LATENCY, endpoint.path).observe(time.perf_counter() - started)
            child(VENDOR_REQUESTS, endpoint.path, str(body["ret"])).inc()
            current.set_attribute("vendor.ret", body["ret"])
            return body

    async def _send(
        self,
        endpoint: Endpoint[Any, Any],
        params: Mapping[str, str],
        files: Mapping[str, UploadFile] | None,
        current: Span,
    ) -> dict[str, Any]:
        session = self._open()
        url = self._url(endpoint.url_path)
        with translated_errors(endpoint.path):
            if endpoint.encoding == "multipart":
                request = session.post(
                    url,
                    data=_multipart(params, files or {}),
                    timeout=self._limits.upload_timeout(),
                )
            elif endpoint.encoding == "form":
                request = session.post(url, data=urlencode(params).encode(), headers=_FORM)
            else:
                request = session.get(url.with_query(params) if params else url)
            async with request as response:
                status = response.status
                content_type = response.headers.get("content-type", "")
                content = await response.read()
        current.set_attribute("http.response.status_code", status)
        if status != 200:
            log.debug("vendor %s answered HTTP %s", endpoint.path, status)
            raise VendorHTTPError(status, endpoint=endpoint.path)
        body = self._decode(endpoint, content_type, content)
        log.debug("vendor %s answered ret=%s", endpoint.path, body["ret"])
        return body

    @staticmethod
    def _decode(endpoint: Endpoint[Any, Any], content_type: str, content: bytes) -> dict[str, Any]:
        if endpoint.path == "/attachment" and "json" not in content_type:
            # A download: the file itself, not an envelope.
            return {"ret": 0, "content": content, "content_type": content_type}
        try:
            body = pydantic_core.from_json(content)
        except ValueError:
            raise VendorProtocolError(
                f"{endpoint.path} answered a body that is not JSON", endpoint=endpoint.path
            ) from None
        if not isinstance(body, dict):
            raise VendorProtocolError(
                f"{endpoint.path} answered JSON that is not an object", endpoint=endpoint.path
            )
        return normalise_answer(body)
