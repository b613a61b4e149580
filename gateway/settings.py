"""GatewaySettings: every setting of the gateway, read once at the edge.

pydantic-settings, environment prefix ``GATEWAY_``, ``__`` for nesting (for example
``GATEWAY_KAFKA__BOOTSTRAP_SERVERS``, ``GATEWAY_VENDOR__BASE_URL``), and an optional TOML
file named by ``GATEWAY_CONFIG_FILE`` (environment wins over the file). Secrets are
``SecretStr``: their repr and JSON dump are masked. Only ``gateway.app`` reads settings; the
rest of the code receives plain values or these frozen sub-models.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["GatewaySettings", "KafkaSettings", "RedisSettings", "VendorSettings"]


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


class RedisSettings(_Frozen):
    """Redis, for stores and limits shared by replicas; unset means in-process only."""

    url: str | None = Field(None, description="redis://host:port/db; unset: in-process only")
    password: SecretStr | None = Field(None, description="Redis password (secret)")


class GatewaySettings(BaseSettings):
    """All settings of the gateway."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    kafka: KafkaSettings = KafkaSettings()
    vendor: VendorSettings = VendorSettings()
    redis: RedisSettings = RedisSettings()
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

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
