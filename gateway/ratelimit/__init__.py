"""Rate limiting per vendor account: GCRA, priority lanes, in-process and Redis limiters."""

from gateway.ratelimit.context import RequestBudget, current_budget, request_budget
from gateway.ratelimit.gcra import Gcra, GcraState
from gateway.ratelimit.lanes import Lane, LaneBudget, split_budget
from gateway.ratelimit.limiter import (
    InProcessRateLimiter,
    RateLimitDeadlineError,
    RateLimiter,
    RedisRateLimiter,
    UnlimitedRateLimiter,
)

__all__ = [
    "Gcra",
    "GcraState",
    "InProcessRateLimiter",
    "Lane",
    "LaneBudget",
    "RateLimitDeadlineError",
    "RateLimiter",
    "RedisRateLimiter",
    "RequestBudget",
    "UnlimitedRateLimiter",
    "current_budget",
    "request_budget",
    "split_budget",
]
