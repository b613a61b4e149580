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

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "vendor-gateway"
    commands_topic: str = "vendor.commands"
    results_topic: str = "vendor.command-results"
    events_topic: str = "vendor.events"
    dlq_topic: str = "vendor.commands.dlq"
    consumer_group: str = "vendor-gateway"
    security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None


class VendorSettings(_Frozen):
    """The vendor account the gateway calls (the simulator's demo account by default)."""

    base_url: str = "http://127.0.0.1:9610"
    access_key: SecretStr = SecretStr("demo_access")
    secret_key: SecretStr = SecretStr("demo_secret")
    # The vendor does not document the token's lifetime: None keeps it until refused (40003).
    token_ttl_s: float | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    pool_timeout_s: float = 10.0
    max_connections: int = 100
    max_keepalive_connections: int = 20


class RedisSettings(_Frozen):
    """Redis, for stores and limits shared by replicas; unset means in-process only."""

    url: str | None = None
    password: SecretStr | None = None


class GatewaySettings(BaseSettings):
    """All settings of the gateway."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    kafka: KafkaSettings = KafkaSettings()
    vendor: VendorSettings = VendorSettings()
    redis: RedisSettings = RedisSettings()
    log_level: str = "INFO"

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
