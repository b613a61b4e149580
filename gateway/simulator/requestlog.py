"""The simulator's request log: what the vendor saw, one entry per vendor request.

A bounded ring (oldest entries fall off) plus running per-path and per-(path, ret) counts that
cover every request since the last clear, also those the ring has dropped. ``seq`` never goes
back, not even across ``clear()``, so a reader paging with ``since`` never sees a number twice.

Secrets never enter the log: parameters named ``token``, ``access_key``, ``secret_key``,
``password``, ``host_password`` or containing ``password`` or ``secret`` are stored as ``"***"``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "LOGGED_HEADERS",
    "MAX_PARSED_ANSWER",
    "REDACTED",
    "RequestLog",
    "RequestLogEntry",
    "is_secret",
    "multipart_field_names",
    "pick_headers",
    "redact",
    "request_params",
    "vendor_ret",
]

REDACTED = "***"
LOGGED_HEADERS = frozenset({b"user-agent", b"x-request-id", b"idempotency-key", b"traceparent"})
"""The request headers an entry keeps (lower-case, as ASGI delivers them)."""
MAX_PARSED_ANSWER = 64 * 1024
"""Answers larger than this are not parsed for ``ret``: the log must stay cheap."""

_SECRET_NAMES = frozenset({"token", "access_key", "secret_key", "password", "host_password"})
_MULTIPART_NAME = re.compile(rb'content-disposition:[^\r\n]*?\bname="([^"]*)"', re.IGNORECASE)


@dataclass(slots=True)
class RequestLogEntry:
    """One vendor request as the simulator saw and answered it."""

    seq: int
    ts: float  # wall clock at arrival, unix seconds
    mono: float  # monotonic clock at arrival, seconds
    method: str
    path: str  # vendor path without /sdkapi/v2, e.g. "/room/create"
    params: dict[str, Any]
    client: str | None  # "host:port"
    headers: dict[str, str]
    status: int | None  # HTTP status; None when the client left before any answer
    ret: int | None  # "ret" (or "code") of the JSON answer; None without one
    duration_ms: float
    fault: str | None  # None, "latency", "error:<code>", "timeout", "http_503", "outage"
    over_limit: bool
    latency_ms: float = 0.0  # injected latency, part of duration_ms

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return asdict(self)


class RequestLog:
    """A bounded ring of ``RequestLogEntry`` with per-path and per-(path, ret) call counts."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.maxlen = maxlen
        self._entries: deque[RequestLogEntry] = deque(maxlen=maxlen)
        self._seq = 0
        self._calls: Counter[str] = Counter()
        self._rets: Counter[tuple[str, int | None]] = Counter()

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest entry ever recorded (0 before the first)."""
        return self._seq

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, **fields: Any) -> RequestLogEntry:
        """Append an entry built from ``fields`` (all entry fields but ``seq``) and count it."""
        self._seq += 1
        entry = RequestLogEntry(seq=self._seq, **fields)
        self._entries.append(entry)
        self._calls[entry.path] += 1
        self._rets[entry.path, entry.ret] += 1
        return entry

    def entries(
        self, *, since: int = 0, path: str | None = None, limit: int | None = None
    ) -> list[RequestLogEntry]:
        """Entries with ``seq > since``, oldest first, optionally of one path, at most ``limit``."""
        entries = self._entries
        if not entries:
            return []
        # seq is contiguous inside the ring, so the first wanted entry's index is known.
        skip = max(0, since - entries[0].seq + 1)
        selected: Iterable[RequestLogEntry] = islice(entries, skip, None)
        if path is not None:
            selected = (e for e in selected if e.path == path)
        return list(islice(selected, limit))

    def calls(self) -> dict[str, int]:
        """Requests per vendor path since the last clear."""
        return dict(self._calls)

    def rets(self) -> dict[str, dict[int | None, int]]:
        """Requests per vendor path and answered ``ret`` since the last clear."""
        by_path: dict[str, dict[int | None, int]] = {}
        for (path, ret), count in self._rets.items():
            by_path.setdefault(path, {})[ret] = count
        return by_path

    def clear(self) -> None:
        """Drop every entry and count; ``seq`` keeps counting."""
        self._entries.clear()
        self._calls.clear()
        self._rets.clear()


def is_secret(name: str) -> bool:
    """True for a parameter whose value must never be logged."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or "password" in lowered or "secret" in lowered


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every secret value replaced by ``"***"`` (in place, and returned)."""
    for name in params:
        if is_secret(name):
            params[name] = REDACTED
    return params


def multipart_field_names(body: bytes) -> list[str]:
    """The field names of a multipart/form-data body, in order (values are never read)."""
    return [m.decode("utf-8", "replace") for m in _MULTIPART_NAME.findall(body)]


def request_params(query_string: bytes, content_type: bytes, body: bytes) -> dict[str, Any]:
    """Redacted parameters from the query string and a urlencoded or multipart body.

    A repeated name keeps its last value, body over query. Multipart fields are recorded by
    name only, with the value ``None``; other bodies (JSON, binary) are not read.
    """
    params: dict[str, Any] = {}
    if query_string:
        params.update(parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True))
    if body:
        if content_type.startswith(b"application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif content_type.startswith(b"multipart/form-data"):
            params.update(dict.fromkeys(multipart_field_names(body)))
    return redact(params)


def pick_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The logged subset of ASGI request headers (see ``LOGGED_HEADERS``)."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in raw_headers
        if name in LOGGED_HEADERS
    }


def vendor_ret(body: bytes) -> int | None:
    """``ret`` (or ``code``, for the endpoints that answer with it) of a JSON object answer.

    None when the answer is not a small JSON object or carries neither as an integer.
    """
    if not body or len(body) > MAX_PARSED_ANSWER or body.lstrip()[:1] != b"{":
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    ret = answer["ret"] if "ret" in answer else answer.get("code")
    return ret if isinstance(ret, int) and not isinstance(ret, bool) else None
