"""The real VendorClient against the vendor simulator served by uvicorn, over a real socket.

Every one of the 73 vendor endpoints gets its documented success and at least one documented
error, driven by the case table in ``tests/integration/client_cases.py``; plus the token's
lifecycle: one refresh after the vendor expires it, and one only, however many calls find out
at once.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app.embedded_simulator import simulator_vendor
from gateway.vendor_api import (
    ALL_ENDPOINTS,
    BY_PATH,
    HttpLimits,
    VendorClient,
    VendorTransport,
)
from gateway.vendor_api.errors import RETRYABLE_CODES, TokenInvalidError
from gateway.vendor_api.generated.endpoints.room import RoomListRequest

from .client_cases import CASES, Case, ErrorCase, scenario

pytestmark = pytest.mark.integration

_MISSING = object()

CASES_BY_PATH = {case.path: case for case in CASES}
ERRORS: list[tuple[Case, ErrorCase]] = [(case, error) for case in CASES for error in case.errors]


def _error_ids() -> list[str]:
    """``<path>-<code>``, with ``#2``, ``#3``... when a path has several cases of one code."""
    ids: list[str] = []
    seen: Counter[str] = Counter()
    for case, error in ERRORS:
        base = f"{case.path}-{error.code}"
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids


@pytest.fixture(scope="module")
async def scenario_http(simulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """One scenario-API client for the whole module (building an httpx client costs ~20 ms)."""
    async with httpx.AsyncClient(base_url=simulator_url) as client:
        yield client


@pytest.fixture
async def sim(scenario_http: httpx.AsyncClient) -> httpx.AsyncClient:
    """Overrides the conftest ``sim``: same reset before each test, on the module's client."""
    (await scenario_http.post("/_sim/reset")).raise_for_status()
    return scenario_http


@pytest.fixture(scope="module")
async def vendor_http(simulator_url: str) -> AsyncIterator[VendorTransport]:
    """The vendor client's pooled HTTP session, built as ``build_vendor_client`` builds it."""
    settings = simulator_vendor(simulator_url)
    http = VendorTransport(settings.base_url, HttpLimits.from_settings(settings))
    yield http
    await http.aclose()


@pytest.fixture
async def vendor_client(sim: httpx.AsyncClient, vendor_http: VendorTransport) -> VendorClient:
    """Overrides the conftest ``vendor_client``: a fresh VendorClient (no token yet) per test,
    on the module's HTTP client, after the simulator was reset."""
    settings = simulator_vendor(vendor_http.base_url)
    return VendorClient(
        vendor_http,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        token_ttl_s=settings.token_ttl_s,
    )


def method_of(client: VendorClient, path: str) -> Any:
    """The generated public method of a vendor path (``RoomCreate`` -> ``room_create``)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", BY_PATH[path].command_type).lower()
    return getattr(client, name)


async def log_entries(
    sim: httpx.AsyncClient, path: str | None = None, since: int = 0
) -> list[dict[str, Any]]:
    """The simulator's request log (entries after ``since``, optionally of one path)."""
    params: dict[str, Any] = {"since": since, "limit": 10_000}
    if path is not None:
        params["path"] = path
    response = await sim.get("/_sim/requests", params=params)
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def last_seq(sim: httpx.AsyncClient) -> int:
    """The sequence number of the newest request the simulator has logged."""
    return int((await scenario(sim, "GET", "/_sim/requests?limit=0"))["last_seq"])


def test_table_covers_every_endpoint() -> None:
    """A complete pass of the table reaches all 73 paths, once each, each with an error case."""
    paths = [case.path for case in CASES]
    assert len(paths) == len(set(paths)), "a path has two cases"
    assert set(paths) == {e.path for e in ALL_ENDPOINTS}
    assert len(paths) == 73
    assert all(case.errors for case in CASES)
    assert len(ERRORS) >= len(CASES)


@pytest.mark.parametrize("path", [e.path for e in ALL_ENDPOINTS], ids=str)
async def test_documented_success(
    path: str, vendor_client: VendorClient, sim: httpx.AsyncClient
) -> None:
    """The endpoint's documented success: answer shape, wire parameters and resulting state."""
    case = CASES_BY_PATH[path]  # a KeyError here: an endpoint without a case
    endpoint = BY_PATH[path]
    ctx = await case.setup(vendor_client, sim)
    since = await last_seq(sim)

    answer = await method_of(vendor_client, case.path)(case.request(ctx))

    assert isinstance(answer, endpoint.response_model)
    assert answer.ret == 0
    assert case.check(answer, ctx), f"{case.path} answered {answer!r}"

    entries = await log_entries(sim, case.path, since)
    assert len(entries) == 1, entries  # one attempt, no token refresh needed
    entry = entries[0]
    # A root path sent under /sdkapi/v2 (or the reverse) would have been answered 404.
    assert (entry["method"], entry["status"]) == (endpoint.method, 200)
    params = entry["params"]
    if endpoint.needs_token:
        assert params.get("token") == "***", params
    expected = case.wire(ctx) if case.wire is not None else {}
    seen = {name: params.get(name, _MISSING) for name in expected}
    assert seen == dict(expected), f"{case.path} sent {params}"

    if case.state is not None:
        state = await scenario(sim, "GET", "/_sim/state")
        assert case.state(state, ctx), f"{case.path} left the simulator in {state}"


@pytest.mark.parametrize(("case", "error"), ERRORS, ids=_error_ids())
async def test_documented_error(
    case: Case, error: ErrorCase, vendor_client: VendorClient, sim: httpx.AsyncClient
) -> None:
    """A documented failure raises its specific typed error with the vendor's code."""
    setup = error.setup if error.setup is not None else case.setup
    ctx = await setup(vendor_client, sim)

    with pytest.raises(error.raises) as raised:
        await method_of(vendor_client, case.path)(error.request(ctx))

    exc = raised.value
    assert type(exc) is error.raises
    assert exc.code == error.code
    assert exc.endpoint == case.path
    assert exc.retryable is error.retryable
    if error.retryable:
        assert error.code in RETRYABLE_CODES
    entries = await log_entries(sim, case.path)
    assert entries[-1]["ret"] == error.code
    if isinstance(exc, TokenInvalidError):
        # Refused, refreshed once, refused again: then the client gives up.
        assert [e["ret"] for e in entries] == [40003, 40003]
        assert len(await log_entries(sim, "/app/get_token")) == 2


async def test_token_refreshed_once_after_expiry(
    vendor_client: VendorClient, sim: httpx.AsyncClient
) -> None:
    """After the vendor expires the token, a call succeeds with exactly one extra get_token."""
    await vendor_client.room_list(RoomListRequest())
    since = await last_seq(sim)
    await scenario(sim, "POST", "/_sim/tokens/expire")

    answer = await vendor_client.room_list(RoomListRequest())

    assert answer.ret == 0
    entries = await log_entries(sim, since=since)
    assert [(e["path"], e["ret"]) for e in entries] == [
        ("/room/list", 40003),
        ("/app/get_token", 0),
        ("/room/list", 0),
    ]
    assert vendor_client.tokens.fetches == 2


async def test_concurrent_calls_after_expiry_share_one_refresh(
    vendor_client: VendorClient, sim: httpx.AsyncClient
) -> None:
    """100 concurrent calls that all meet an expired token trigger a single get_token."""
    await vendor_client.room_list(RoomListRequest())
    since = await last_seq(sim)
    await scenario(sim, "POST", "/_sim/tokens/expire")

    answers = await asyncio.gather(
        *(vendor_client.room_list(RoomListRequest()) for _ in range(100))
    )

    assert all(answer.ret == 0 for answer in answers)
    entries = await log_entries(sim, since=since)
    assert Counter(e["path"] for e in entries)["/app/get_token"] == 1
    # Every call took the cached token before any answer came back: 100 refused, 100 retried.
    assert Counter(e["ret"] for e in entries if e["path"] == "/room/list") == {40003: 100, 0: 100}
    assert vendor_client.tokens.fetches == 2
