"""FileUpload: a file cannot ride inside a Kafka message, so it comes inline or by reference.

The payload names the file inline (``content_base64``, capped by a setting) or by reference
(``source_url``: the claim-check pattern), plus ``filename``, ``path`` and
``storage_only_cluster`` as the vendor documents them.

A ``source_url`` makes the gateway fetch an address a command chose, from inside the cluster
(server-side request forgery, if unguarded). So it is refused unless its host is allowed
(:class:`SourcePolicy`: an allowlist, https only by default); the host is resolved once, every
address it resolves to must be public (no loopback, private, link-local, multicast, reserved
or unspecified address, also inside IPv4-mapped, 6to4 and NAT64 IPv6 addresses), and the
connection goes to that very address (the Host header and the TLS server name and
certificate check stay the host's), so a second resolution cannot point it elsewhere (DNS
rebinding). No redirect is followed, no proxy from the environment is used, the answer is
read raw (``Accept-Encoding: identity``; a compressed answer is refused, never inflated), and
the download is bounded by size, by ``upload_source_timeout_s`` and by the command's deadline.
Whatever goes wrong while fetching, the command learns one text, :data:`FETCH_FAILED`, so a
command cannot tell a refused address from a closed port or a 404 (no port scanning).

A download is spooled to an unnamed temporary file and streamed from there to the vendor:
memory stays flat whatever the size, and at most ``upload_concurrency`` uploads (download and
vendor call) run at once. The handler fetches only after it holds the idempotency claim, so
a redelivered or replayed command does not download again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import ipaddress
import logging
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from gateway.errors import GatewayError
from gateway.settings import CommandsSettings
from gateway.vendor_api.endpoint import (
    UploadFile,
    check_filename,
    check_mime_type,
    has_control_characters,
)
from gateway.vendor_api.generated.endpoints.upload import FileUploadRequest

__all__ = [
    "FETCH_FAILED",
    "FileUploadPayload",
    "PendingUpload",
    "Resolver",
    "SourcePolicy",
    "UploadSlotTimeoutError",
    "UploadSourceError",
    "UploadSources",
    "build_download_client",
    "build_upload_request",
    "check_path",
    "prepare_upload",
    "refused_address",
    "system_resolver",
]

log = logging.getLogger("gateway.commands.upload")

# The one text for every failure of a source_url fetch (DNS, refused address, connect error,
# HTTP status, redirect, too large, compressed, timeout): the command learns nothing else.
FETCH_FAILED = "source_url could not be fetched"

_PATH_MAX = 1024
_CHUNK = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``, resolved once per fetch (injectable for tests)."""


class UploadSourceError(GatewayError):
    """The file could not be read from its inline content or its source URL."""

    def __init__(self, message: str, field: str = "source_url") -> None:
        super().__init__(message)
        self.field = field  # the payload field at fault


class UploadSlotTimeoutError(GatewayError):
    """The command's deadline passed while it waited for an upload slot."""


def check_path(value: str) -> str:
    """``value`` if it is a plain absolute storage path; ValueError otherwise."""
    if len(value) > _PATH_MAX:
        raise ValueError(f"must be at most {_PATH_MAX} characters")
    if not value.startswith("/"):
        raise ValueError("must be an absolute path (start with /)")
    if "\\" in value or has_control_characters(value):
        raise ValueError("must not contain \\ or control characters")
    segments = value.strip("/").split("/")
    if value != "/" and any(s in ("", ".", "..") for s in segments):
        raise ValueError('must not contain "//", "." or ".." segments')
    return value


class FileUploadPayload(BaseModel):
    """The Kafka payload of FileUpload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str = Field(
        min_length=1,
        description=(
            'name the vendor stores the file under: a bare file name (no "/", "\\", "..",'
            " control characters; at most 255 bytes)"
        ),
    )
    content_base64: str | None = Field(None, description="the file, base64 (small files)")
    source_url: HttpUrl | None = Field(
        None,
        description=(
            "address to fetch the file from; only hosts the gateway allows"
            " (GATEWAY_COMMANDS__UPLOAD_SOURCE_HOSTS), https only by default"
        ),
    )
    content_type: str = Field(
        "application/octet-stream", description="MIME type of the file (type/subtype)"
    )
    path: str | None = Field(
        None,
        description=(
            "vendor storage path (vendor default /opt/data/resources): absolute, without"
            ' ".", ".." or empty segments'
        ),
    )
    storage_only_cluster: bool | None = None

    @field_validator("filename")
    @classmethod
    def _bare_filename(cls, value: str) -> str:
        return check_filename(value)

    @field_validator("content_type")
    @classmethod
    def _mime_type(cls, value: str) -> str:
        return check_mime_type(value)

    @field_validator("path")
    @classmethod
    def _plain_path(cls, value: str | None) -> str | None:
        return None if value is None else check_path(value)

    @model_validator(mode="after")
    def _one_source(self) -> FileUploadPayload:
        if (self.content_base64 is None) == (self.source_url is None):
            raise ValueError("give exactly one of content_base64 and source_url")
        return self


def _host_allowed(host: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


_DEFAULTS = CommandsSettings()


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """Which ``source_url`` the gateway fetches, and within which bounds (the defaults are the
    settings' own, read from :class:`~gateway.settings.CommandsSettings`: declared once)."""

    # names, "*.domain" (its subdomains) or "*"; empty: none
    hosts: tuple[str, ...] = tuple(_DEFAULTS.upload_source_hosts)
    allow_http: bool = _DEFAULTS.upload_source_allow_http
    allow_private: bool = _DEFAULTS.upload_source_allow_private  # tests and local development
    max_bytes: int = _DEFAULTS.upload_source_max_bytes
    timeout_s: float = _DEFAULTS.upload_source_timeout_s
    concurrency: int = _DEFAULTS.upload_concurrency
    spool_dir: str | None = _DEFAULTS.upload_spool_dir

    def check(self, url: HttpUrl | str) -> httpx.URL:
        """The URL, if the policy lets it be fetched at all (no I/O); UploadSourceError with
        the reason otherwise. The addresses are checked when fetching."""
        if not self.hosts:
            raise UploadSourceError(
                "source_url is not enabled on this gateway (GATEWAY_COMMANDS__UPLOAD_SOURCE_HOSTS);"
                " send the file inline as content_base64"
            )
        parsed = httpx.URL(str(url))
        if parsed.scheme != "https" and not (self.allow_http and parsed.scheme == "http"):
            raise UploadSourceError("source_url must use https")
        if parsed.userinfo:
            raise UploadSourceError("source_url must not carry credentials")
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if not _host_allowed(host, self.hosts):
            raise UploadSourceError("source_url's host is not one this gateway fetches from")
        return parsed


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused_address(text: str, allow_private: bool = False) -> bool:
    """Whether the gateway must not connect to ``text``: loopback, private, link-local,
    multicast, reserved, unspecified or otherwise not global (IPv4 inside IPv6 included).
    ``allow_private`` lets all but unspecified and multicast addresses through."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return True
        inner = _embedded_ipv4(address)
        if inner is not None and refused_address(str(inner), allow_private):
            return True
        if address.ipv4_mapped is not None:
            return False  # judged as the IPv4 address it is
    if address.is_unspecified or address.is_multicast:
        return True
    if allow_private:
        return False
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or not address.is_global
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def build_download_client() -> httpx.AsyncClient:
    """The HTTP client for source_url: no redirects, no proxies from the environment, no
    pooled connections (each one is made to a checked address), identity encoding."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
        headers={"user-agent": "vendor-gateway/0.1", "accept-encoding": "identity"},
    )


class _Refused(Exception):  # noqa: N818 - internal: why a fetch failed, for the log only
    pass


class UploadSources:
    """Fetches source_url files under a :class:`SourcePolicy`, at most ``concurrency`` at once.

    ``http`` (default: :func:`build_download_client`, then owned and closed by
    :meth:`aclose`) and ``resolver`` are injectable for tests.
    """

    def __init__(
        self,
        policy: SourcePolicy,
        http: httpx.AsyncClient | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.policy = policy
        self._owned = http is None
        self._http = http or build_download_client()
        self._resolve = resolver or system_resolver
        self._slots = asyncio.Semaphore(policy.concurrency)

    def check_spool(self) -> None:
        """Fail now (at start-up) if the spool directory cannot take a temporary file."""
        with tempfile.TemporaryFile(dir=self.policy.spool_dir):
            pass

    async def aclose(self) -> None:
        """Close the download client, if this object made it."""
        if self._owned:
            await self._http.aclose()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: float | None) -> AsyncIterator[None]:
        """Hold one of the ``concurrency`` upload slots; UploadSlotTimeoutError if ``deadline``
        (a Unix time) passes first."""
        try:
            async with asyncio.timeout(_remaining(deadline)):
                await self._slots.acquire()
        except TimeoutError:
            raise UploadSlotTimeoutError(
                "the deadline passed while waiting for an upload slot"
            ) from None
        try:
            yield
        finally:
            self._slots.release()

    async def fetch(self, url: httpx.URL, deadline: float | None) -> io.BufferedIOBase:
        """The file at ``url`` (already through :meth:`SourcePolicy.check`), spooled to an
        unnamed temporary file positioned at its start; the caller closes it.
        UploadSourceError(FETCH_FAILED) for any failure, the reason only in the log."""
        budget = self.policy.timeout_s
        remaining = _remaining(deadline)
        if remaining is not None:
            budget = min(budget, remaining)
        host = url.raw_host.decode("ascii")
        spool = tempfile.TemporaryFile(dir=self.policy.spool_dir)  # noqa: SIM115 - returned
        try:
            if budget <= 0:
                raise _Refused("no time left before the deadline")
            async with asyncio.timeout(budget):
                await self._download(url, spool)
        except (
            _Refused,
            httpx.HTTPError,
            httpx.InvalidURL,
            httpx.StreamError,
            OSError,
            TimeoutError,
            UnicodeError,
            ValueError,
        ) as exc:
            spool.close()
            reason = str(exc) if isinstance(exc, _Refused) else type(exc).__name__
            log.warning("FileUpload source_url on %s not fetched: %s", host, reason)
            raise UploadSourceError(FETCH_FAILED) from None
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    async def _download(self, url: httpx.URL, spool: io.BufferedIOBase) -> None:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = list(await self._resolve(host, port))
        if not addresses:
            raise _Refused("the host resolved to no address")
        refused = [a for a in addresses if refused_address(a, self.policy.allow_private)]
        if refused:
            raise _Refused(f"the host resolved to a refused address ({refused[0]})")
        # Connect to the address just checked, never to a new resolution of the name.
        address = ipaddress.ip_address(addresses[0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        extensions: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
        request = self._http.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"host": url.netloc.decode("ascii"), "accept-encoding": "identity"},
            extensions=extensions,
        )
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise _Refused(f"HTTP {response.status_code}")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise _Refused(f"the answer is encoded ({encoding})")
            declared = response.headers.get("content-length")
            if (
                declared is not None
                and declared.isdigit()
                and int(declared) > self.policy.max_bytes
            ):
                raise _Refused(f"the answer declares {declared} bytes")
            size = 0
            async for chunk in response.aiter_raw(_CHUNK):
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise _Refused(f"the answer is larger than {self.policy.max_bytes} bytes")
                spool.write(chunk)
        finally:
            await response.aclose()


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.time()


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A FileUpload whose file is still at its source_url: fetched once the command holds its
    idempotency claim (and an upload slot)."""

    payload: FileUploadPayload
    url: httpx.URL

    def request(self, file: io.BufferedIOBase) -> FileUploadRequest:
        """The vendor request, streaming the fetched ``file``."""
        return upload_request(self.payload, file)


def upload_request(
    payload: FileUploadPayload, content: bytes | io.BufferedIOBase
) -> FileUploadRequest:
    """The vendor request for ``payload`` with the file's ``content``."""
    return FileUploadRequest(
        file=UploadFile(
            filename=payload.filename, content=content, content_type=payload.content_type
        ),
        path=payload.path,
        storage_only_cluster=payload.storage_only_cluster,
    )


def build_upload_request(payload: FileUploadPayload, inline_max: int) -> FileUploadRequest:
    """The vendor request of an inline FileUpload, decoded, never past its cap."""
    if payload.content_base64 is None:
        raise UploadSourceError("content_base64 is missing", "content_base64")
    if len(payload.content_base64) > (inline_max * 4) // 3 + 4:
        raise UploadSourceError(
            f"content_base64 is larger than {inline_max} bytes", "content_base64"
        )
    try:
        content = base64.b64decode(payload.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise UploadSourceError("content_base64 is not valid base64", "content_base64") from None
    if len(content) > inline_max:  # the length check above allows up to 3 bytes of slack
        raise UploadSourceError(
            f"content_base64 is larger than {inline_max} bytes", "content_base64"
        )
    return upload_request(payload, content)


def prepare_upload(
    payload: FileUploadPayload, policy: SourcePolicy, inline_max: int
) -> FileUploadRequest | PendingUpload:
    """An inline file decoded, or a source_url checked against ``policy`` (no I/O either way)."""
    if payload.source_url is None:
        return build_upload_request(payload, inline_max)
    return PendingUpload(payload, policy.check(payload.source_url))
