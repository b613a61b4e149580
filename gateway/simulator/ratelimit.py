"""The vendor-side rate limit: an exact GCRA, its violation count and an arrival timeline.

This is what proves "the vendor never sees more than the configured rate", so the arithmetic is
exact (integers, no float drift) and the semantics are spelled out here.

GCRA semantics
--------------
Let ``r = rate_per_s``, ``b = burst`` and ``j = tolerance_ms / 1000``. Arrival times are read on
the simulator's monotonic clock and rounded to the nanosecond. The rate is taken as the decimal
number the float prints as (``repr``), so ``0.1`` means exactly 1/10 per second.

The limiter keeps a *theoretical arrival time* (TAT). With emission interval ``T = 1/r`` and
tolerance ``tau = (b - 1) * T + j``, a request arriving at ``t`` **conforms** iff
``t >= TAT - tau`` (always, for the first request); a conforming request moves
``TAT = max(TAT, t) + T``. A non-conforming request leaves TAT alone: it is the request a vendor
enforcing this limit would have refused, so it does not consume budget, and the violation count
equals the number of 429s such a vendor would have sent.

Equivalently, the accepted requests are exactly those chosen greedily, in arrival order, such
that every closed window ``[s, s + w]`` holds at most ``b + r * (w + j)`` accepted requests. So:

* ``b`` requests may arrive at the same instant; the next one must wait ``T``;
* a request is flagged only if accepting it would put some window over that bound;
* with ``j = 0`` the bound is the plain "burst + rate x window".

Arrivals are checked on arrival, before any injected fault or latency, and include every vendor
path (also ``/app/get_token``): the limit is per account, and the simulator has one account.

Per-path limits
---------------
``RateLimitConfig.per_path`` gives some vendor paths a limit of their own as well: the same
GCRA (with the account's tolerance) over the arrivals at that path only. A request to such a
path is checked against the account's limit and its path's, each on its own: each counts its
own violations and keeps its own timeline, and the request is ``over_limit`` (refused with
``reject``) when it is over either.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from gateway.simulator.config import PathRateLimit, RateLimitConfig

__all__ = ["BUCKET_NS", "ArrivalTimeline", "GcraLimiter", "VendorRateLimit"]

_NS_PER_S = 1_000_000_000
BUCKET_NS = 100_000_000
"""Width of one arrival-timeline bucket: 100 ms."""


class GcraLimiter:
    """The generic cell rate algorithm over integer nanoseconds, exact (see module docstring).

    Times are scaled by the rate's numerator so that the emission interval, the tolerance and
    every arrival are integers: with ``r = p/q`` per second, one unit is ``1/p`` ns and
    ``T = q * 10**9`` units.
    """

    __slots__ = ("_emission", "_scale", "_tat", "_tau", "burst", "rate", "tolerance_ns")

    def __init__(self, rate_per_s: float, burst: int, tolerance_ns: int = 0) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if tolerance_ns < 0:
            raise ValueError("tolerance_ns must not be negative")
        self.rate = Fraction(repr(float(rate_per_s)))
        if self.rate <= 0:
            raise ValueError("rate_per_s must be positive")
        self.burst = burst
        self.tolerance_ns = tolerance_ns
        self._scale = self.rate.numerator
        self._emission = self.rate.denominator * _NS_PER_S
        self._tau = (burst - 1) * self._emission + tolerance_ns * self._scale
        self._tat: int | None = None

    def conforms(self, now_ns: int) -> bool:
        """Check one arrival at ``now_ns``; True if it conforms (and then it consumes budget)."""
        t = now_ns * self._scale
        tat = self._tat
        if tat is None or t >= tat - self._tau:
            self._tat = (t if tat is None or t > tat else tat) + self._emission
            return True
        return False

    def reset(self) -> None:
        """Forget all arrivals: the next ``burst`` requests conform at once."""
        self._tat = None


@dataclass(slots=True)
class _Bucket:
    index: int  # start of the bucket in BUCKET_NS units of the monotonic clock
    wall: float  # unix time of the bucket's start, for plots
    arrivals: int = 0
    over_limit: int = 0


class ArrivalTimeline:
    """Arrivals (and violations) per 100 ms bucket; only buckets with arrivals are kept.

    Bounded to the newest ``max_buckets`` non-empty buckets (default one hour of traffic).
    """

    def __init__(self, max_buckets: int = 36_000) -> None:
        self._buckets: deque[_Bucket] = deque(maxlen=max_buckets)

    def record(self, now_ns: int, wall: float, *, over_limit: bool) -> None:
        """Count one arrival at monotonic ``now_ns`` (``wall`` is the same instant, unix time)."""
        index = now_ns // BUCKET_NS
        buckets = self._buckets
        # Arrivals come in clock order; a fake clock stepping back lands in the newest bucket.
        if not buckets or index > buckets[-1].index:
            bucket_wall = wall - (now_ns - index * BUCKET_NS) / _NS_PER_S
            buckets.append(_Bucket(index, bucket_wall))
        bucket = buckets[-1]
        bucket.arrivals += 1
        if over_limit:
            bucket.over_limit += 1

    def snapshot(self) -> list[dict[str, Any]]:
        """The buckets, oldest first: ``mono`` and ``ts`` are the bucket's start in seconds."""
        return [
            {
                "mono": b.index * BUCKET_NS / _NS_PER_S,
                "ts": round(b.wall, 3),
                "arrivals": b.arrivals,
                "over_limit": b.over_limit,
            }
            for b in self._buckets
        ]

    def clear(self) -> None:
        """Drop every bucket."""
        self._buckets.clear()


class _CountedLimit:
    """One GCRA with the violations it found and the timeline of the arrivals it saw."""

    def __init__(self, limiter: GcraLimiter, max_buckets: int) -> None:
        self.limiter = limiter
        self.timeline = ArrivalTimeline(max_buckets)
        self.violations = 0
        self.checked = 0

    def check(self, now_ns: int, wall: float, *, enabled: bool) -> bool:
        over = False
        if enabled:
            self.checked += 1
            if not self.limiter.conforms(now_ns):
                over = True
                self.violations += 1
        self.timeline.record(now_ns, wall, over_limit=over)
        return over

    def reset(self) -> None:
        self.violations = 0
        self.checked = 0
        self.timeline.clear()
        self.limiter.reset()

    def snapshot(self) -> dict[str, Any]:
        return {
            "count": self.violations,
            "checked": self.checked,
            "bucket_ms": BUCKET_NS // 1_000_000,
            "timeline": self.timeline.snapshot(),
        }


class VendorRateLimit:
    """The limit as the vendor applies it: config, GCRA, violation count and timeline, for the
    account and for each path of ``per_path``.

    ``check`` is called once per arriving vendor request. The timelines count every arrival,
    also while the limit is disabled (plots want the traffic either way). ``violations`` and
    ``checked`` are the account's; each path's are in ``snapshot()["per_path"]``.
    """

    def __init__(self, config: RateLimitConfig, *, max_buckets: int = 36_000) -> None:
        self._max_buckets = max_buckets
        self._config = config
        self._account = _CountedLimit(self._build(config), max_buckets)
        self._paths = {
            path: _CountedLimit(self._build_path(limit, config), max_buckets)
            for path, limit in config.per_path.items()
        }

    @staticmethod
    def _build(config: RateLimitConfig) -> GcraLimiter:
        return GcraLimiter(config.rate_per_s, config.burst, round(config.tolerance_ms * 1e6))

    @staticmethod
    def _build_path(limit: PathRateLimit, config: RateLimitConfig) -> GcraLimiter:
        return GcraLimiter(limit.rate_per_s, limit.burst, round(config.tolerance_ms * 1e6))

    @property
    def timeline(self) -> ArrivalTimeline:
        """The account's arrivals (every vendor path)."""
        return self._account.timeline

    @property
    def violations(self) -> int:
        """Requests over the account's limit."""
        return self._account.violations

    @property
    def checked(self) -> int:
        """Requests checked against the account's limit."""
        return self._account.checked

    @property
    def config(self) -> RateLimitConfig:
        """The current rate-limit settings."""
        return self._config

    @config.setter
    def config(self, config: RateLimitConfig) -> None:
        # A changed rate, burst or tolerance starts a fresh GCRA (the bound holds from the
        # change on), for the account and for each path on its own; counts are kept. A path
        # no longer listed is dropped with its counts.
        old = self._config
        if _account_part(config) != _account_part(old):
            self._account.limiter = self._build(config)
        paths = {}
        for path, limit in config.per_path.items():
            counted = self._paths.get(path)
            fresh = self._build_path(limit, config)
            if counted is None:
                counted = _CountedLimit(fresh, self._max_buckets)
            elif limit != old.per_path.get(path) or config.tolerance_ms != old.tolerance_ms:
                counted.limiter = fresh
            paths[path] = counted
        self._paths = paths
        self._config = config

    def check(self, now_ns: int, wall: float, path: str | None = None) -> bool:
        """Record one arrival at vendor ``path``; True if it is over the account's limit or
        its path's (never, when disabled)."""
        enabled = self._config.enabled
        over = self._account.check(now_ns, wall, enabled=enabled)
        counted = self._paths.get(path) if path is not None else None
        if counted is not None:
            # Checked even when the account's limit flagged it: each limit counts on its own.
            over = counted.check(now_ns, wall, enabled=enabled) or over
        return over

    def reset(self) -> None:
        """Clear violations, the timelines and the GCRA states."""
        self._account.reset()
        for counted in self._paths.values():
            counted.reset()

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_sim/violations`` answers: the account's count (``count``, ``checked``,
        ``timeline``) and under ``per_path`` each limited path's, with its limit."""
        return {
            **self._account.snapshot(),
            "rate_limit": self._config.model_dump(mode="json"),
            "per_path": {
                path: {
                    **counted.snapshot(),
                    "rate_limit": self._config.per_path[path].model_dump(mode="json"),
                }
                for path, counted in self._paths.items()
            },
        }


def _account_part(config: RateLimitConfig) -> RateLimitConfig:
    """The config without its per-path limits: what the account's own GCRA depends on."""
    return config.model_copy(update={"per_path": {}})
