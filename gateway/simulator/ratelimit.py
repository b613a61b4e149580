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
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from gateway.simulator.config import RateLimitConfig

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


class VendorRateLimit:
    """The limit as the vendor applies it: config, GCRA, violation count and timeline.

    ``check`` is called once per arriving vendor request. The timeline counts every arrival,
    also while the limit is disabled (plots want the traffic either way).
    """

    def __init__(self, config: RateLimitConfig, *, max_buckets: int = 36_000) -> None:
        self.timeline = ArrivalTimeline(max_buckets)
        self.violations = 0
        self.checked = 0
        self._config = config
        self._limiter = self._build(config)

    @staticmethod
    def _build(config: RateLimitConfig) -> GcraLimiter:
        return GcraLimiter(config.rate_per_s, config.burst, round(config.tolerance_ms * 1e6))

    @property
    def config(self) -> RateLimitConfig:
        """The current rate-limit settings."""
        return self._config

    @config.setter
    def config(self, config: RateLimitConfig) -> None:
        # A changed rate or burst starts a fresh GCRA: the bound holds from the change on.
        if config != self._config:
            self._config = config
            self._limiter = self._build(config)

    def check(self, now_ns: int, wall: float) -> bool:
        """Record one arrival; True if it is over the limit (never, when disabled)."""
        over = False
        if self._config.enabled:
            self.checked += 1
            if not self._limiter.conforms(now_ns):
                over = True
                self.violations += 1
        self.timeline.record(now_ns, wall, over_limit=over)
        return over

    def reset(self) -> None:
        """Clear violations, the timeline and the GCRA state."""
        self.violations = 0
        self.checked = 0
        self.timeline.clear()
        self._limiter.reset()

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_sim/violations`` answers."""
        return {
            "count": self.violations,
            "checked": self.checked,
            "rate_limit": self._config.model_dump(mode="json"),
            "bucket_ms": BUCKET_NS // 1_000_000,
            "timeline": self.timeline.snapshot(),
        }
