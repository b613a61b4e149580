"""The HTTP leg to the vendor: one shared httpx client; httpx exceptions translated here, once.

Nothing outside ``gateway/vendor_api/`` sees an httpx exception: :func:`translated_errors` maps
them to :mod:`gateway.vendor_api.errors` (httpx's own ``map_httpcore_exceptions`` habit), with
messages built from the endpoint path only, never the URL (which may carry the token).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, cast

import httpx
from opentelemetry.trace import Span, SpanKind, StatusCode

from gateway.redaction import RedactingFilter
from gateway.settings import VendorSettings
from gateway.telemetry.metrics import VENDOR_LATENCY, VENDOR_REQUESTS
from gateway.telemetry.tracing import tracer
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
    "HttpLimits",
    "VendorTransport",
    "build_http_client",
    "normalise_answer",
    "translated_errors",
]

log = logging.getLogger("gateway.vendor_api")

_httpx_filter = RedactingFilter()


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Connection pool limits and timeouts of the shared HTTP client (no defaults: they are
    settings, :class:`~gateway.settings.VendorSettings`)."""

    connect_timeout_s: float
    read_timeout_s: float
    write_timeout_s: float
    pool_timeout_s: float
    max_connections: int
    max_keepalive_connections: int

    @classmethod
    def from_settings(cls, settings: VendorSettings) -> HttpLimits:
        """The limits an account's settings give."""
        return cls(
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            write_timeout_s=settings.write_timeout_s,
            pool_timeout_s=settings.pool_timeout_s,
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_keepalive_connections,
        )


def build_http_client(base_url: str, limits: HttpLimits) -> httpx.AsyncClient:
    """The one shared ``httpx.AsyncClient`` for an account's vendor base URL."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(
            connect=limits.connect_timeout_s,
            read=limits.read_timeout_s,
            write=limits.write_timeout_s,
            pool=limits.pool_timeout_s,
        ),
        limits=httpx.Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
        ),
        headers={"user-agent": "vendor-gateway/0.1"},
    )


@contextmanager
def translated_errors(endpoint: str) -> Iterator[None]:
    """Turn httpx exceptions into vendor transport errors; drop the original (it has the URL)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise VendorTimeoutError(
            f"{type(exc).__name__} calling {endpoint}", endpoint=endpoint
        ) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
        raise VendorConnectionError(
            f"{type(exc).__name__} calling {endpoint}", endpoint=endpoint
        ) from None
    except httpx.HTTPError as exc:
        raise VendorTransportError(
            f"{type(exc).__name__} calling {endpoint}", endpoint=endpoint
        ) from None


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


def _file_part(file: UploadFile) -> tuple[str, bytes | IO[bytes], str]:
    """A multipart file: bytes, or an open file httpx streams from its start on each attempt."""
    content = file.content if isinstance(file.content, bytes) else cast("IO[bytes]", file.content)
    return file.filename, content, file.content_type


class VendorTransport:
    """Sends one request to the vendor and returns its JSON answer, normalised."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        # httpx logs request URLs at INFO; GET-only endpoints carry the token in theirs.
        for name in ("httpx", "httpcore"):
            logger = logging.getLogger(name)
            if _httpx_filter not in logger.filters:
                logger.addFilter(_httpx_filter)

    async def send(
        self,
        endpoint: Endpoint[Any, Any],
        params: Mapping[str, str],
        files: Mapping[str, UploadFile] | None = None,
    ) -> dict[str, Any]:
        """POST a form (or multipart) body where allowed; GET with a query otherwise."""
        with tracer.start_as_current_span(
            f"{endpoint.method} {endpoint.path}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": endpoint.method,
                "url.path": endpoint.url_path,  # never the query: it may hold the token
                "server.address": self._http.base_url.host,
                "vendor.endpoint": endpoint.path,
            },
        ) as span:
            started = time.perf_counter()
            try:
                body = await self._send(endpoint, params, files, span)
            except VendorError as exc:
                VENDOR_REQUESTS.labels(endpoint.path, exc.error_class).inc()
                span.set_status(StatusCode.ERROR, exc.error_class)
                raise
            finally:
                VENDOR_LATENCY.labels(endpoint.path).observe(time.perf_counter() - started)
            VENDOR_REQUESTS.labels(endpoint.path, str(body["ret"])).inc()
            span.set_attribute("vendor.ret", body["ret"])
            return body

    async def _send(
        self,
        endpoint: Endpoint[Any, Any],
        params: Mapping[str, str],
        files: Mapping[str, UploadFile] | None,
        span: Span,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        with translated_errors(endpoint.path):
            if endpoint.encoding == "multipart":
                response = await self._http.post(
                    endpoint.url_path,
                    data=dict(params),
                    files={k: _file_part(f) for k, f in (files or {}).items()},
                )
            elif endpoint.encoding == "form":
                response = await self._http.post(endpoint.url_path, data=dict(params))
            else:
                response = await self._http.get(endpoint.url_path, params=dict(params))
        elapsed_ms = (time.perf_counter() - started) * 1000
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code != 200:
            log.debug(
                "vendor %s answered HTTP %s in %.1f ms",
                endpoint.path,
                response.status_code,
                elapsed_ms,
            )
            raise VendorHTTPError(response.status_code, endpoint=endpoint.path)
        body = self._decode(endpoint, response)
        log.debug("vendor %s answered ret=%s in %.1f ms", endpoint.path, body["ret"], elapsed_ms)
        return body

    @staticmethod
    def _decode(endpoint: Endpoint[Any, Any], response: httpx.Response) -> dict[str, Any]:
        content_type = response.headers.get("content-type", "")
        if endpoint.path == "/attachment" and "json" not in content_type:
            # A download: the file itself, not an envelope.
            return {"ret": 0, "content": response.content, "content_type": content_type}
        try:
            body = json.loads(response.content)
        except ValueError:
            raise VendorProtocolError(
                f"{endpoint.path} answered a body that is not JSON", endpoint=endpoint.path
            ) from None
        if not isinstance(body, dict):
            raise VendorProtocolError(
                f"{endpoint.path} answered JSON that is not an object", endpoint=endpoint.path
            )
        return normalise_answer(body)
