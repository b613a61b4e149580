"""FileUpload.source_url: the URL policy, the address checks, and the guarded download.

A local server (tests/source_server.py) stands in for a file host; a resolver is injected
where a test needs a name to resolve to a given address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from pydantic import ValidationError

from gateway.commands.upload import (
    FETCH_FAILED,
    FileUploadPayload,
    Resolver,
    SourcePolicy,
    UploadSourceError,
    UploadSources,
    refused_address,
)
from gateway.vendor_api.endpoint import UploadFile
from tests.source_server import SourceServer

LOCAL = SourcePolicy(hosts=("files.test",), allow_http=True, allow_private=True)


def _resolve_to(*addresses: str) -> tuple[list[str], Resolver]:
    calls: list[str] = []

    async def resolver(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return list(addresses)

    return calls, resolver


async def _fetch_text(sources: UploadSources, url: str, deadline: float | None = None) -> bytes:
    file = await sources.fetch(httpx.URL(url), deadline)
    with file:
        return file.read()


# -- the policy (no I/O) --------------------------------------------------------------------


def test_source_url_is_refused_unless_hosts_are_configured() -> None:
    """The default policy fetches nothing, and says how to send the file instead."""
    with pytest.raises(UploadSourceError, match=r"not enabled.*content_base64"):
        SourcePolicy().check("https://files.example.com/a.png")


def test_https_only_by_default() -> None:
    """http is refused unless allowed; other schemes never pass."""
    policy = SourcePolicy(hosts=("files.example.com",))
    assert policy.check("https://files.example.com/a.png").host == "files.example.com"
    with pytest.raises(UploadSourceError, match="https"):
        policy.check("http://files.example.com/a.png")
    allowed = SourcePolicy(hosts=("files.example.com",), allow_http=True)
    assert allowed.check("http://files.example.com/a.png").scheme == "http"
    with pytest.raises(UploadSourceError, match="https"):
        allowed.check("ftp://files.example.com/a.png")


@pytest.mark.parametrize(
    ("hosts", "url", "allowed"),
    [
        (("files.example.com",), "https://files.example.com/a", True),
        (("files.example.com",), "https://FILES.example.com./a", True),
        (("files.example.com",), "https://other.example.com/a", False),
        (("files.example.com",), "https://files.example.com.evil.test/a", False),
        (("*.example.com",), "https://cdn.eu.example.com/a", True),
        (("*.example.com",), "https://example.com/a", False),
        (("*.example.com",), "https://evilexample.com/a", False),
        (("*",), "https://anything.test/a", True),
        (("files.example.com",), "https://169.254.169.254/latest/meta-data", False),
    ],
)
def test_host_allowlist(hosts: tuple[str, ...], url: str, allowed: bool) -> None:
    """Exact names, *.domain for subdomains only, * for any host; case and a final dot
    do not matter."""
    policy = SourcePolicy(hosts=hosts)
    if allowed:
        policy.check(url)
    else:
        with pytest.raises(UploadSourceError, match="host is not one"):
            policy.check(url)


def test_credentials_in_the_url_are_refused() -> None:
    """user:password@host is refused."""
    with pytest.raises(UploadSourceError, match="credentials"):
        SourcePolicy(hosts=("*",)).check("https://u:p@files.example.com/a")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.9.10",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "100.64.0.1",  # shared address space (carrier NAT, some cluster networks)
        "0.0.0.0",  # unspecified: Linux connects it to the local host  # noqa: S104
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",  # unique local
        "fd12:3456::1",
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "not-an-address",
    ],
)
def test_refused_addresses(address: str) -> None:
    """Every non-public address class is refused, also inside IPv6."""
    assert refused_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    """Public addresses (IPv4-mapped ones judged as their IPv4) pass."""
    assert not refused_address(address)


def test_allow_private_still_refuses_unspecified_and_multicast() -> None:
    """The test/dev switch lets loopback and private through, never 0.0.0.0 or multicast."""
    assert not refused_address("127.0.0.1", allow_private=True)
    assert not refused_address("10.0.0.1", allow_private=True)
    assert refused_address("0.0.0.0", allow_private=True)  # noqa: S104
    assert refused_address("224.0.0.1", allow_private=True)
    assert refused_address("::ffff:0.0.0.0", allow_private=True)


# -- payload checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "../../etc/passwd"),
        ("filename", "a/b.png"),
        ("filename", "a\\b.png"),
        ("filename", "x..png"),
        ("filename", ".."),
        ("filename", "a\r\nb.png"),
        ("filename", "a\x00.png"),
        ("filename", "gnp\u202e.exe"),
        ("filename", "a" * 252 + ".png"),
        ("content_type", "image/png\r\nX-Injected: 1"),
        ("content_type", "image/png\nX-Injected: 1"),
        ("content_type", "not a type"),
        ("content_type", 'image/png; name="a\r\n"'),
        ("content_type", ""),
        ("path", "relative/dir"),
        ("path", "/opt/../etc"),
        ("path", "/opt/./data"),
        ("path", "/opt//data"),
        ("path", "/opt/data\r\n"),
        ("path", "/opt\\data"),
        ("path", "/" + "a" * 1100),
    ],
)
def test_payload_refuses_unsafe_names(field: str, value: str) -> None:
    """filename, content_type and path are checked before anything reaches the vendor."""
    payload = {"filename": "a.png", "content_base64": "eA==", field: value}
    with pytest.raises(ValidationError) as caught:
        FileUploadPayload.model_validate(payload)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_payload_accepts_plain_values() -> None:
    """The usual names pass."""
    payload = FileUploadPayload.model_validate(
        {
            "filename": "Quarterly report 2024 (final).mp4",
            "content_base64": "eA==",
            "content_type": "text/plain; charset=utf-8",
            "path": "/opt/data/resources",
        }
    )
    assert payload.path == "/opt/data/resources"


def test_upload_file_refuses_a_header_in_content_type() -> None:
    """The vendor layer itself never puts a CR/LF into a multipart header."""
    with pytest.raises(ValidationError):
        UploadFile(filename="a.png", content=b"x", content_type="image/png\r\nX-Injected: 1")
    with pytest.raises(ValidationError):
        UploadFile(filename="../a.png", content=b"x")


# -- the download ---------------------------------------------------------------------------


async def test_fetch_streams_to_a_file_with_identity_encoding() -> None:
    """The file arrives whole, read raw, asked for with Accept-Encoding: identity and the
    original Host header, on a connection to the resolved address."""
    calls, resolver = _resolve_to("127.0.0.1")
    async with SourceServer() as server:
        sources = UploadSources(LOCAL, resolver=resolver)
        body = await _fetch_text(sources, f"http://files.test:{server.port}/file/300000")
        await sources.aclose()
    assert len(body) == 300_000
    assert calls == ["files.test"]
    (seen,) = server.requests
    assert seen.headers["accept-encoding"] == "identity"
    assert seen.headers["host"] == f"files.test:{server.port}"


async def test_a_host_resolving_to_a_refused_address_gets_no_request() -> None:
    """One refused address among the answers refuses the host; nothing is sent."""
    _, resolver = _resolve_to("93.184.216.34", "127.0.0.1")
    seen: list[httpx.Request] = []

    def files(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(files))
    sources = UploadSources(SourcePolicy(hosts=("*",)), http, resolver)
    with pytest.raises(UploadSourceError) as caught:
        await sources.fetch(httpx.URL("https://files.example.com/a.png"), None)
    assert str(caught.value) == FETCH_FAILED
    assert seen == []
    await http.aclose()


async def test_dns_rebinding_connects_to_the_first_resolution() -> None:
    """The name is resolved once; the connection goes to that public address (with the
    name as Host and TLS server name), not to what a later resolution would say."""
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    seen: list[httpx.Request] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"file-"
        yield b"bytes"

    def vendor_of_files(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body())

    http = httpx.AsyncClient(transport=httpx.MockTransport(vendor_of_files))
    sources = UploadSources(SourcePolicy(hosts=("files.example.com",)), http, rebinding)
    assert await _fetch_text(sources, "https://files.example.com/a.png") == b"file-bytes"
    await http.aclose()
    assert calls == ["files.example.com"]
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert request.url.scheme == "https"
    assert request.headers["host"] == "files.example.com"
    assert request.extensions["sni_hostname"] == "files.example.com"


async def test_every_fetch_failure_says_the_same() -> None:
    """404, 500, a closed port, a refused address, a redirect, a DNS failure, an encoded or
    too large answer: one text, so a command cannot map the network."""
    async with SourceServer() as server:
        closed = SourceServer()
        await closed.start()
        closed_port = closed.port
        await closed.stop()

        async def resolver(host: str, port: int) -> Sequence[str]:
            if host == "nxdomain.test":
                raise OSError("Name or service not known")
            return ["10.0.0.1"] if host == "private.test" else ["127.0.0.1"]

        policy = SourcePolicy(hosts=("*",), allow_http=True, allow_private=True, max_bytes=1000)
        sources = UploadSources(policy, resolver=resolver)
        strict = UploadSources(SourcePolicy(hosts=("*",), allow_http=True), resolver=resolver)
        cases = [
            (sources, f"http://files.test:{server.port}/status/404"),
            (sources, f"http://files.test:{server.port}/status/500"),
            (sources, f"http://files.test:{closed_port}/file/10"),
            (sources, f"http://files.test:{server.port}/redirect"),
            (sources, f"http://files.test:{server.port}/gzip"),
            (sources, f"http://files.test:{server.port}/file/5000"),
            (sources, f"http://files.test:{server.port}/file/5000?nolength=1"),
            (sources, f"http://nxdomain.test:{server.port}/file/10"),
            (strict, f"http://files.test:{server.port}/file/10"),  # loopback refused
            (strict, f"http://private.test:{server.port}/file/10"),
        ]
        messages = []
        for fetcher, url in cases:
            with pytest.raises(UploadSourceError) as caught:
                await fetcher.fetch(httpx.URL(url), None)
            messages.append(str(caught.value))
        await sources.aclose()
        await strict.aclose()
    assert messages == [FETCH_FAILED] * len(cases)
    # The redirect was not followed: the server saw no request for its target.
    assert not any(r.target == "/file/10" for r in server.requests)


async def test_a_slow_drip_is_cut_by_the_overall_timeout() -> None:
    """A byte every 50 ms never trips a read timeout; the overall timeout ends it."""
    policy = SourcePolicy(hosts=("*",), allow_http=True, allow_private=True, timeout_s=0.5)
    async with SourceServer() as server:
        sources = UploadSources(policy)
        started = time.monotonic()
        with pytest.raises(UploadSourceError, match=FETCH_FAILED):
            await sources.fetch(httpx.URL(f"{server.url}/drip/1000?every=0.05"), None)
        elapsed = time.monotonic() - started
        await sources.aclose()
    assert 0.4 < elapsed < 2.0


async def test_the_deadline_bounds_the_download() -> None:
    """With a long timeout, the command's deadline still ends a slow download."""
    policy = SourcePolicy(hosts=("*",), allow_http=True, allow_private=True, timeout_s=60)
    async with SourceServer() as server:
        sources = UploadSources(policy)
        started = time.monotonic()
        with pytest.raises(UploadSourceError, match=FETCH_FAILED):
            await sources.fetch(httpx.URL(f"{server.url}/drip/1000?every=0.05"), time.time() + 0.5)
        elapsed = time.monotonic() - started
        past = await asyncio.gather(
            sources.fetch(httpx.URL(f"{server.url}/file/10"), time.time() - 1),
            return_exceptions=True,
        )
        await sources.aclose()
    assert 0.4 < elapsed < 2.0
    assert isinstance(past[0], UploadSourceError)


async def test_at_most_concurrency_slots_at_once() -> None:
    """Eight fetches through slots of two: never more than two downloads at the server."""
    policy = SourcePolicy(hosts=("*",), allow_http=True, allow_private=True, concurrency=2)
    async with SourceServer() as server:
        sources = UploadSources(policy)

        async def one() -> int:
            async with sources.slot(None):
                file = await sources.fetch(httpx.URL(f"{server.url}/file/1000?delay=0.1"), None)
                with file:
                    return len(file.read())

        sizes = await asyncio.gather(*(one() for _ in range(8)))
        await sources.aclose()
    assert sizes == [1000] * 8
    assert server.max_active == 2
