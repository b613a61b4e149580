"""Settings of the vendor simulator.

The simulator imports nothing from the gateway (tests/unit/test_architecture.py checks): it
has its own settings, read from the environment with the prefix ``GATEWAY_SIMULATOR_`` (``__``
for nesting), so a serialisation mistake on one side cannot hide in shared code.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "FaultConfig",
    "LatencyConfig",
    "PathRateLimit",
    "RateLimitConfig",
    "RequestFaults",
    "SimulatorSettings",
]


class LatencyConfig(BaseModel):
    """Added latency per vendor request: fixed, or drawn from a distribution (milliseconds).

    ``fixed`` adds ``fixed_ms``; ``uniform`` draws from [``min_ms``, ``max_ms``]; ``normal``
    draws from N(``mean_ms``, ``stddev_ms``) cut at 0; ``exponential`` has mean ``mean_ms``.
    """

    # A typo in a scenario must fail loudly, not silently inject nothing.
    model_config = ConfigDict(extra="forbid")

    distribution: str = Field(default="fixed", pattern="^(fixed|uniform|normal|exponential)$")
    fixed_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    min_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # uniform lower bound
    max_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # uniform upper bound
    mean_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # normal / exponential mean
    stddev_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # normal spread

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Self:
        if self.min_ms > self.max_ms:
            raise ValueError("min_ms must not exceed max_ms")
        return self


class PathRateLimit(BaseModel):
    """One vendor path's own limit, on top of the account's: the same GCRA over the requests
    to that path only (the account's ``tolerance_ms`` and ``reject`` apply to it too)."""

    # A typo in a scenario must fail loudly, not silently inject nothing.
    model_config = ConfigDict(extra="forbid")

    rate_per_s: float = Field(gt=0, allow_inf_nan=False)
    burst: int = Field(default=1, ge=1)


class RateLimitConfig(BaseModel):
    """The vendor-side rate limit: every request above it is recorded as a violation.

    A GCRA with emission interval ``1 / rate_per_s`` that lets ``burst`` requests arrive at
    once; ``tolerance_ms`` widens it to absorb network jitter. In any window of length w the
    requests it accepts never exceed ``burst + rate_per_s * (w + tolerance_ms / 1000)``; the
    exact semantics are in ``gateway.simulator.ratelimit``. ``per_path`` limits some vendor
    paths on their own as well (e.g. ``{"/room/get_statistic": {"rate_per_s": 5, "burst": 5}}``):
    a request to such a path is checked against both, and each counts its own violations.
    """

    # A typo in a scenario must fail loudly, not silently inject nothing.
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    rate_per_s: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    burst: int = Field(default=100, ge=1)
    # When true, a request over the limit is answered with HTTP 429 instead of being served.
    reject: bool = False
    # Jitter the network may add between the gateway's limiter and the vendor's arrival clock.
    tolerance_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    # vendor path (e.g. "/room/get_statistic") -> that path's own limit, within the account's
    per_path: dict[str, PathRateLimit] = {}


class RequestFaults(BaseModel):
    """Faults drawn per vendor request: latency plus at most one of timeout, 5xx, vendor error.

    One uniform draw per request picks the outcome, so each rate is the exact probability of its
    outcome; the rates together must not exceed 1.
    """

    # A typo in a scenario must fail loudly, not silently inject nothing.
    model_config = ConfigDict(extra="forbid")

    latency: LatencyConfig = LatencyConfig()
    # vendor code -> probability (0..1) that a request is answered with that code instead.
    error_rates: dict[int, float] = {}
    # probability that a request hangs for ``timeout_hang_s`` (or until the client gives up)
    # and is then answered HTTP 504; see gateway.simulator.faults for why not a dropped socket.
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_hang_s: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    # probability of an HTTP 5xx answer
    http_5xx_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _rates_are_probabilities(self) -> Self:
        for code, rate in self.error_rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"error_rates[{code}] must be within 0..1, got {rate}")
        if self.timeout_rate + self.http_5xx_rate + sum(self.error_rates.values()) > 1.0 + 1e-9:
            raise ValueError("timeout_rate + http_5xx_rate + sum(error_rates) must not exceed 1")
        return self


class FaultConfig(RequestFaults):
    """Faults applied to vendor requests (never to the /_sim/ scenario API).

    The top-level request faults apply to every vendor path, or only to ``paths`` when that is
    non-empty. A path listed in ``per_path`` uses that entry instead (whether or not it is in
    ``paths``). The rate limit sees every vendor request, whatever ``paths`` says.
    """

    rate_limit: RateLimitConfig = RateLimitConfig()
    # only these paths are affected when non-empty (e.g. ["/room/create"])
    paths: list[str] = []
    # vendor path (e.g. "/room/create") -> the request faults for that path, replacing the above
    per_path: dict[str, RequestFaults] = {}


class SimulatorSettings(BaseSettings):
    """Everything the simulator can be told at start; most of it can also change at run time."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_SIMULATOR_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 9610
    access_key: str = "demo_access"
    secret_key: SecretStr = SecretStr("demo_secret")
    token_ttl_s: float = 7200.0
    faults: FaultConfig = FaultConfig()
    request_log_size: int = 100_000
    seed: int | None = None
    # Where download/play URLs in answers point; default http://{host}:{port}.
    public_url: str | None = None
    # A device called by /device/call answers after this many seconds (None: only when the
    # scenario API answers it).
    invite_answer_delay_s: float | None = 1.0
    # The media server rooms land on unless told otherwise (the reference's example: "box1").
    default_server_id: str = "box1"
    # max_users of /app/get_licence_info.
    max_users: int = 500
