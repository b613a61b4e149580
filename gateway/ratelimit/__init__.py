"""Rate limiting per vendor account: GCRA, priority lanes, in-process and Redis limiters."""

from gateway.ratelimit.budget import UNHURRIED_COMMANDS, RequestBudget
from gateway.ratelimit.gcra import Gcra, GcraState
from gateway.ratelimit.lanes import Lane, LaneBudget, split_budget
from gateway.ratelimit.limiter import (
    InProcessRateLimiter,
    OnLane,
    RateLimitDeadlineError,
    RateLimiter,
    RedisRateLimiter,
    UnlimitedRateLimiter,
)

__all__ = [
    "UNHURRIED_COMMANDS",
    "Gcra",
    "GcraState",
    "InProcessRateLimiter",
    "Lane",
    "LaneBudget",
    "OnLane",
    "RateLimitDeadlineError",
    "RateLimiter",
    "RedisRateLimiter",
    "RequestBudget",
    "UnlimitedRateLimiter",
    "split_budget",
]
