"""Fault injection for the vendor simulator: the decisions, and the ASGI middleware applying them.

Wiring (for ``app.py``)::

    injector = FaultInjector(settings.faults, log_size=settings.request_log_size,
                             seed=settings.seed)
    app = Starlette(routes=[*vendor_routes, *fault_routes(injector)])
    app = FaultMiddleware(app, injector=injector)

``fault_routes`` (``gateway.simulator.scenario_faults``, which imports this module, not the
other way round) returns routes whose paths already start with ``/_sim/`` (concatenate them into
the app's route list; do not ``Mount`` them under ``/_sim`` again). A scenario-wide reset should
call ``injector.reset()``.

What a vendor request meets, in this order (``/_sim/*`` and non-vendor paths meet none of it):

1. **Rate limit**, on arrival: the GCRA in ``gateway.simulator.ratelimit`` (the account's, and
   the path's own when ``per_path`` lists it) flags the request ``over_limit``; with
   ``reject`` it is answered HTTP 429 at once, otherwise served normally.
2. **Outage** (``start_outage``): every vendor request, whatever ``paths`` says, is answered at
   once with HTTP 503 and the text body ``vendor outage (simulated)``. A 503 rather than a
   refused connection: a socket cannot be refused per request from inside ASGI, and the client's
   retry path for "5xx" and "connection failed" is the same; timeouts are covered below.
3. **Request faults** (``FaultConfig`` or its ``per_path`` entry; only for ``paths`` when that
   is non-empty): the latency is drawn and slept first; then one uniform draw picks at most one
   outcome, so every rate is the exact probability of its outcome:

   * ``timeout``: hang ``timeout_hang_s`` without answering. A client with a shorter read
     timeout sees a timeout, and when it hangs up the hang ends (logged with status None).
     If the hang runs out first, the answer is HTTP 504: ASGI cannot close a connection
     without the server answering 500 itself.
   * ``http_503``: HTTP 503 with the text body ``Service Unavailable``.
   * ``error:<code>``: HTTP 200 ``{"ret": code, "msg": <documented message>}`` (``code``
     instead of ``ret`` on the endpoints that answer with ``code``).

Every vendor request is logged (``gateway.simulator.requestlog``) with the fault it met:
``"outage"``, ``"timeout"``, ``"http_503"``, ``"error:<code>"``, ``"latency"`` (only latency)
or None.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from gateway.simulator.config import FaultConfig, LatencyConfig, RequestFaults
from gateway.simulator.ratelimit import VendorRateLimit
from gateway.simulator.requestlog import (
    MAX_PARSED_ANSWER,
    RequestLog,
    pick_headers,
    request_params,
    vendor_ret,
)

__all__ = [
    "ERROR_MESSAGES",
    "FaultDecision",
    "FaultInjector",
    "FaultMiddleware",
    "vendor_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ERROR_MESSAGES: dict[int, str] = {
    41001: "redis error",
    41002: "mysql error",
    41003: "http server request timeout",
    41005: "internal error",
    40001: "Authenticate failed, access_key or secret_key error",
    40002: "args required or error",
    40003: "access token check invalid",
    40004: "no such room id",
    40005: "room id exist",
}
"""The documented message of the codes most often injected; any other gets "injected error"."""
_DEFAULT_MESSAGE = "injected error"

# The vendor answers these with "code" where all others use "ret" (REFERENCE.md section 1).
_CODE_KEY_PATHS = frozenset({"/room/close", "/room/participate/kick", "/room/participate/list"})

_API_PREFIX = "/sdkapi/v2"
_ROOT_VENDOR_PATHS = frozenset({"/uploadfile", "/attachment"})


def vendor_path(raw_path: str) -> str | None:
    """The vendor path of an ASGI path (``/sdkapi/v2/room/create`` -> ``/room/create``).

    ``/uploadfile`` and ``/attachment`` live at the root; anything else is not a vendor path
    (None). A doubled slash after the prefix, which the vendor's own examples contain, is folded.
    """
    if raw_path.startswith("/sdkapi/v2/"):
        path = raw_path[len(_API_PREFIX) :]
        return "/" + path.lstrip("/") if path.startswith("//") else path
    return raw_path if raw_path in _ROOT_VENDOR_PATHS else None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A canned answer: the bytes to send and what the log records about it."""

    status: int
    body: bytes
    content_type: bytes
    fault: str | None
    ret: int | None = None

    @classmethod
    def text(cls, status: int, text: str, fault: str | None) -> _Answer:
        return cls(status, text.encode(), b"text/plain; charset=utf-8", fault)

    @classmethod
    def vendor_error(cls, code: int, key: str) -> _Answer:
        message = ERROR_MESSAGES.get(code, _DEFAULT_MESSAGE)
        body = json.dumps({key: code, "msg": message}, separators=(",", ":"))
        return cls(200, body.encode(), b"application/json", f"error:{code}", code)


_OUTAGE = _Answer.text(503, "vendor outage (simulated)", "outage")
_HTTP_503 = _Answer.text(503, "Service Unavailable", "http_503")
_HANG_EXPIRED = _Answer.text(504, "Gateway Timeout", "timeout")
# Not a fault: the log tells a 429 by its status and ``over_limit``.
_TOO_MANY = _Answer.text(429, "rate limit exceeded", None)


@dataclass(frozen=True, slots=True)
class _VendorError:
    """An injected vendor code, compiled for both answer shapes ("ret" and "code")."""

    with_ret: _Answer
    with_code: _Answer

    @classmethod
    def of(cls, code: int) -> _VendorError:
        return cls(_Answer.vendor_error(code, "ret"), _Answer.vendor_error(code, "code"))

    def answer_for(self, path: str) -> _Answer:
        return self.with_code if path in _CODE_KEY_PATHS else self.with_ret


@dataclass(frozen=True, slots=True)
class _Timeout:
    """The decision to hang ``hang_s`` seconds without an answer."""

    hang_s: float
    fault: str = "timeout"


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What one vendor request gets: added latency, then an outcome (None: the real endpoint)."""

    latency_s: float = 0.0
    outcome: _Answer | _Timeout | None = None  # None: the real endpoint answers

    @property
    def fault(self) -> str | None:
        """The log's ``fault`` label for this decision."""
        if self.outcome is not None:
            return self.outcome.fault
        return "latency" if self.latency_s > 0 else None


_NO_FAULT = FaultDecision()
_OUTAGE_DECISION = FaultDecision(outcome=_OUTAGE)


def _latency_sampler(latency: LatencyConfig) -> Callable[[random.Random], float] | None:
    """A function drawing one latency in seconds, or None when it is always zero."""
    kind = latency.distribution
    if kind == "fixed":
        fixed_s = latency.fixed_ms / 1000
        return (lambda _rng: fixed_s) if fixed_s > 0 else None
    if kind == "uniform":
        low, high = latency.min_ms / 1000, latency.max_ms / 1000
        return (lambda rng: rng.uniform(low, high)) if high > 0 else None
    mean_s = latency.mean_ms / 1000
    if kind == "normal":
        sigma = latency.stddev_ms / 1000
        if mean_s <= 0 and sigma <= 0:
            return None
        return lambda rng: max(0.0, rng.gauss(mean_s, sigma))
    # exponential
    return (lambda rng: rng.expovariate(1 / mean_s)) if mean_s > 0 else None


class _Plan:
    """``RequestFaults`` compiled once per config change, so a request costs one or two draws."""

    __slots__ = ("latency", "outcomes")

    def __init__(self, faults: RequestFaults) -> None:
        self.latency = _latency_sampler(faults.latency)
        # Cumulative thresholds over one uniform draw: outcome i wins when u < thresholds[i].
        self.outcomes: list[tuple[float, _Answer | _Timeout | _VendorError]] = []
        cumulative = 0.0
        weighted: list[tuple[float, _Answer | _Timeout | _VendorError]] = [
            (faults.timeout_rate, _Timeout(faults.timeout_hang_s)),
            (faults.http_5xx_rate, _HTTP_503),
        ]
        weighted += [
            (rate, _VendorError.of(code)) for code, rate in sorted(faults.error_rates.items())
        ]
        for rate, outcome in weighted:
            if rate > 0:
                cumulative += rate
                self.outcomes.append((cumulative, outcome))

    @property
    def is_empty(self) -> bool:
        return self.latency is None and not self.outcomes

    def decide(self, rng: random.Random, path: str) -> FaultDecision:
        latency_s = self.latency(rng) if self.latency is not None else 0.0
        if self.outcomes:
            u = rng.random()
            for threshold, outcome in self.outcomes:
                if u < threshold:
                    if isinstance(outcome, _VendorError):
                        return FaultDecision(latency_s, outcome.answer_for(path))
                    return FaultDecision(latency_s, outcome)
        return FaultDecision(latency_s) if latency_s > 0 else _NO_FAULT


class FaultInjector:
    """Decides the faults of each vendor request and holds the request log and the rate limit.

    ``config`` can be replaced at run time (the plans are rebuilt; the rate limit starts a fresh
    GCRA only if its own settings changed). ``clock`` is the monotonic clock in seconds and
    ``sleep`` the coroutine used for latency and hangs; tests pass fakes for both.
    """

    def __init__(
        self,
        config: FaultConfig,
        *,
        log_size: int = 100_000,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.log = RequestLog(log_size)
        self.rate_limit = VendorRateLimit(config.rate_limit)
        self._start_config = config
        self._seed = seed
        self._rng = random.Random(seed)
        self._outage_until: float | None = None
        self.config = config

    @property
    def config(self) -> FaultConfig:
        """The faults in force."""
        return self._config

    @config.setter
    def config(self, config: FaultConfig) -> None:
        default = _Plan(config)
        self._default_plan = None if default.is_empty else default
        self._path_plans = {path: _Plan(faults) for path, faults in config.per_path.items()}
        self._paths = frozenset(config.paths)
        self.rate_limit.config = config.rate_limit
        self._config = config

    def reset(self) -> None:
        """Back to the start config and seed; end any outage; clear log, counts and violations."""
        self.config = self._start_config
        self._rng.seed(self._seed)
        self._outage_until = None
        self.log.clear()
        self.rate_limit.reset()

    def clear_faults(self) -> None:
        """Remove every fault and end any outage; the rate limit and its counts stay."""
        self.config = FaultConfig(rate_limit=self._config.rate_limit)
        self._outage_until = None

    def start_outage(self, duration_s: float) -> None:
        """Start (or replace) an outage that ends ``duration_s`` seconds from now."""
        self._outage_until = self.clock() + duration_s

    def end_outage(self) -> None:
        """End the outage now, if one is running."""
        self._outage_until = None

    def outage_remaining(self) -> float:
        """Seconds until the running outage ends (0 when there is none)."""
        if self._outage_until is None:
            return 0.0
        remaining = self._outage_until - self.clock()
        if remaining <= 0:
            self._outage_until = None
            return 0.0
        return remaining

    def decide(self, path: str) -> FaultDecision:
        """The faults for one request to vendor ``path`` (draws from the seeded generator)."""
        if self._outage_until is not None and self.outage_remaining() > 0:
            return _OUTAGE_DECISION
        plan = self._path_plans.get(path)
        if plan is None:
            if self._paths and path not in self._paths:
                return _NO_FAULT
            plan = self._default_plan
            if plan is None:
                return _NO_FAULT
        return plan.decide(self._rng, path)


class FaultMiddleware:
    """Pure ASGI middleware: rate limit, faults and request log for vendor paths only.

    The request body is buffered (to log form parameters) and replayed to the inner app; the
    answer's status and, up to 64 KiB, its body are captured to log the vendor ``ret``.
    """

    def __init__(self, app: ASGIApp, *, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = vendor_path(scope["path"]) if scope["type"] == "http" else None
        if path is None:
            await self.app(scope, receive, send)
            return
        await self._vendor_request(scope, receive, send, path)

    async def _vendor_request(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        injector = self.injector
        arrival = injector.clock()
        wall = injector.wall_clock()
        over_limit = injector.rate_limit.check(round(arrival * 1e9), wall, path)
        body, client_gone = await _read_body(receive)
        outcome = _Outcome()
        try:
            if not client_gone:
                await self._answer(scope, receive, send, path, body, over_limit, outcome)
        finally:
            # Also when the inner app raised: it may have answered 500 first.
            injector.log.record(
                ts=wall,
                mono=arrival,
                method=scope["method"],
                path=path,
                params=request_params(scope.get("query_string", b""), _content_type(scope), body),
                client=_client(scope),
                headers=pick_headers(scope["headers"]),
                status=outcome.status,
                ret=outcome.ret,
                duration_ms=(injector.clock() - arrival) * 1000,
                fault=outcome.fault,
                over_limit=over_limit,
                latency_ms=outcome.latency_s * 1000,
            )

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        body: bytes,
        over_limit: bool,
        outcome: _Outcome,
    ) -> None:
        """Answer one vendor request, noting in ``outcome`` what it got."""
        injector = self.injector
        if over_limit and injector.rate_limit.config.reject:
            await _send_answer(send, _TOO_MANY, outcome)
            return
        decision = injector.decide(path)
        outcome.fault = decision.fault
        outcome.latency_s = decision.latency_s
        if decision.latency_s > 0:
            await injector.sleep(decision.latency_s)
        answer = decision.outcome
        if isinstance(answer, _Timeout):
            if await _hang(injector, answer.hang_s, receive):
                return  # the client gave up: it gets no answer at all
            answer = _HANG_EXPIRED
        if answer is not None:
            await _send_answer(send, answer, outcome)
        else:
            await self._call_vendor(scope, receive, send, body, outcome)

    async def _call_vendor(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, outcome: _Outcome
    ) -> None:
        """Run the real endpoint on the buffered body, noting its status and ``ret``."""
        replayed = False
        chunks: list[bytes] = []
        size = 0

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
            elif message["type"] == "http.response.body" and size <= MAX_PARSED_ANSWER:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= MAX_PARSED_ANSWER:
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        outcome.ret = vendor_ret(b"".join(chunks))
                else:
                    chunks.clear()  # too large to parse: stop holding on to it
            await send(message)

        await self.app(scope, replay, capture)


class _Outcome:
    """What the log records about the answer, filled in while answering."""

    __slots__ = ("fault", "latency_s", "ret", "status")

    def __init__(self) -> None:
        self.status: int | None = None  # None: no answer was sent
        self.ret: int | None = None
        self.fault: str | None = None
        self.latency_s = 0.0


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client disconnected before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks), False


async def _send_answer(send: Send, answer: _Answer, outcome: _Outcome) -> None:
    """Send a canned answer and note it in ``outcome``."""
    headers = [
        (b"content-type", answer.content_type),
        (b"content-length", str(len(answer.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    outcome.status = answer.status
    outcome.ret = answer.ret
    await send({"type": "http.response.body", "body": answer.body})


async def _hang(injector: FaultInjector, seconds: float, receive: Receive) -> bool:
    """Wait ``seconds`` or until the client disconnects; True if it disconnected."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    sleeper = asyncio.ensure_future(injector.sleep(seconds))
    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, watcher):
            task.cancel()
        await asyncio.gather(sleeper, watcher, return_exceptions=True)
    return watcher in done


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).lower()
    return b""


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None
