"""Rate limiting per vendor account: GCRA, priority lanes, in-process and Redis limiters,
and per-endpoint sub-limits inside an account's budget."""

from gateway.ratelimit.budget import UNHURRIED_COMMANDS, RequestBudget
from gateway.ratelimit.endpoints import (
    EndpointLimiter,
    EndpointLimits,
    InProcessEndpointLimiter,
    RedisEndpointLimiter,
    endpoint_burst,
)
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
    "EndpointLimiter",
    "EndpointLimits",
    "Gcra",
    "GcraState",
    "InProcessEndpointLimiter",
    "InProcessRateLimiter",
    "Lane",
    "LaneBudget",
    "OnLane",
    "RateLimitDeadlineError",
    "RateLimiter",
    "RedisEndpointLimiter",
    "RedisRateLimiter",
    "RequestBudget",
    "UnlimitedRateLimiter",
    "endpoint_burst",
    "split_budget",
]
