"""GatewaySettings: every setting of the gateway, read once at the edge.

pydantic-settings, environment prefix ``GATEWAY_``, ``__`` for nesting (for example
``GATEWAY_KAFKA__BOOTSTRAP_SERVERS``, ``GATEWAY_VENDOR__BASE_URL``), and an optional TOML
file named by ``GATEWAY_CONFIG_FILE`` (environment wins over the file). Secrets are
``SecretStr``: their repr and JSON dump are masked. Only ``gateway.app`` reads settings; the
rest of the code receives plain values or these frozen sub-models.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "CommandsSettings",
    "GatewaySettings",
    "IdempotencySettings",
    "KafkaSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RetrySettings",
    "VendorSettings",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Frozen):
    """Where the Kafka bus is and the topic names (CONTRACT.md defaults)."""

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    client_id: str = Field("vendor-gateway", description="Kafka client id prefix")
    commands_topic: str = Field("vendor.commands", description="topic of command envelopes")
    results_topic: str = Field("vendor.command-results", description="topic of result events")
    events_topic: str = Field("vendor.events", description="topic of poller change events")
    dlq_topic: str = Field(
        "vendor.commands.dlq", description="dead-letter topic for bytes that are no command"
    )
    consumer_group: str = Field("vendor-gateway", description="consumer group of the commands role")
    security_protocol: str = Field(
        default="PLAINTEXT",
        pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$",
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    sasl_username: str | None = Field(None, description="SASL user")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    ssl_cafile: Path | None = Field(None, description="CA bundle for TLS to the brokers")


class RateLimitSettings(_Frozen):
    """One vendor account's request budget, shared by commands and the poller."""

    enabled: bool = Field(True, description="limit requests to the vendor")
    rate_per_s: float = Field(50.0, gt=0, description="sustained requests per second")
    burst: int = Field(10, ge=2, description="requests that may start at once")
    poller_share: float = Field(
        0.2, gt=0, lt=1, description="share of the budget reserved for the poller"
    )
    # Requests are scheduled this fraction below the limit, so network jitter between the
    # gateway and the vendor cannot make two requests arrive closer than the vendor allows.
    safety_margin: float = Field(0.02, ge=0, lt=0.5, description="run this fraction below the rate")


class VendorSettings(_Frozen):
    """The vendor account the gateway calls (the simulator's demo account by default)."""

    base_url: str = Field("http://127.0.0.1:9610", description="vendor server root (no /sdkapi/v2)")
    access_key: SecretStr = Field(
        SecretStr("demo_access"), description="vendor access key (secret)"
    )
    secret_key: SecretStr = Field(
        SecretStr("demo_secret"), description="vendor secret key (secret)"
    )
    # The vendor does not document the token's lifetime: None keeps it until refused (40003).
    token_ttl_s: float | None = Field(
        None, description="refresh the token after this long; unset: when the vendor refuses it"
    )
    connect_timeout_s: float = Field(5.0, description="HTTP connect timeout")
    read_timeout_s: float = Field(30.0, description="HTTP read timeout")
    write_timeout_s: float = Field(30.0, description="HTTP write timeout")
    pool_timeout_s: float = Field(10.0, description="wait for a free pooled connection")
    max_connections: int = Field(100, description="HTTP connection pool size")
    max_keepalive_connections: int = Field(20, description="idle connections kept open")
    rate_limit: RateLimitSettings = RateLimitSettings()


class RetrySettings(_Frozen):
    """Retries of transient vendor failures: exponential backoff with full jitter."""

    max_attempts: int = Field(5, ge=1, description="vendor attempts per command at most")
    initial_wait_s: float = Field(0.2, ge=0, description="backoff window of the first retry")
    max_wait_s: float = Field(10.0, ge=0, description="largest backoff window")


class IdempotencySettings(_Frozen):
    """Where idempotency keys and outcomes are kept."""

    backend: Literal["sqlite", "redis"] = Field(
        "sqlite", description="sqlite (one instance) or redis (shared by replicas)"
    )
    sqlite_path: Path = Field(
        Path(".cache/idempotency.sqlite3"), description="SQLite file of the sqlite backend"
    )
    retention_s: float = Field(86400.0, gt=0, description="how long outcomes are kept")
    lease_s: float = Field(
        30.0, gt=0, description="an in-flight claim lapses this long after its last heartbeat"
    )


class CommandsSettings(_Frozen):
    """The commands role: concurrency, batching of transactions, shutdown."""

    max_in_flight: int = Field(64, ge=1, description="commands processed at once (all keys)")
    max_buffered: int = Field(
        2000, ge=1, description="records fetched but not finished before fetching pauses"
    )
    commit_interval_ms: int = Field(
        50, ge=1, description="how often finished results are published and offsets committed"
    )
    transactional: bool = Field(
        True, description="publish results and commit offsets in one Kafka transaction"
    )
    transaction_timeout_ms: int = Field(
        15000, ge=1000, description="broker aborts a transaction left open this long"
    )
    grace_period_s: float = Field(
        20.0, ge=0, description="time to finish in-flight work on SIGTERM"
    )
    result_type_prefix: str = Field("avd", description="CloudEvents type prefix of results")
    source: str = Field("/vendor-gateway", description="CloudEvents source of results")
    upload_inline_max_bytes: int = Field(
        512 * 1024, ge=0, description="largest FileUpload content_base64 accepted"
    )
    upload_source_max_bytes: int = Field(
        50 * 1024 * 1024, ge=0, description="largest file FileUpload streams from source_url"
    )


class RedisSettings(_Frozen):
    """Redis, for stores and limits shared by replicas; unset means in-process only."""

    url: str | None = Field(None, description="redis://host:port/db; unset: in-process only")
    password: SecretStr | None = Field(None, description="Redis password (secret)")


class GatewaySettings(BaseSettings):
    """All settings of the gateway."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="stable name of this replica (pod name); names its Kafka transactions",
    )
    kafka: KafkaSettings = KafkaSettings()
    vendor: VendorSettings = VendorSettings()
    accounts: dict[str, VendorSettings] = Field(
        default_factory=dict,
        description="further vendor accounts by name (GATEWAY_ACCOUNTS__<NAME>__BASE_URL, ...)",
    )
    redis: RedisSettings = RedisSettings()
    commands: CommandsSettings = CommandsSettings()
    retry: RetrySettings = RetrySettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    def account(self, name: str) -> VendorSettings | None:
        """The settings of vendor account ``name`` ("default" is ``vendor``)."""
        return self.vendor if name == "default" else self.accounts.get(name)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the optional TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = os.environ.get("GATEWAY_CONFIG_FILE")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)
