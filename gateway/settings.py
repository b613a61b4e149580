"""GatewaySettings: every setting of the gateway, read once at the edge.

pydantic-settings, environment prefix ``GATEWAY_``, ``__`` for nesting (for example
``GATEWAY_KAFKA__BOOTSTRAP_SERVERS``, ``GATEWAY_VENDOR__BASE_URL``), and an optional TOML
file named by ``GATEWAY_CONFIG_FILE`` (environment wins over the file). Secrets are
``SecretStr``: their repr and JSON dump are masked. Only ``gateway.app`` reads settings; the
rest of the code receives plain values or these frozen sub-models.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "CommandsSettings",
    "GatewaySettings",
    "IdempotencySettings",
    "KafkaSettings",
    "OpsSettings",
    "PollerSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RetrySettings",
    "VendorSettings",
    "WebhookSettings",
]


_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Frozen):
    """Where the Kafka bus is and the topic names (docs/topics.md defaults)."""

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
    # Production creates topics once, deliberately (`gateway topics ensure`, the chart's hook);
    # a role that created them would do so with whatever settings the first pod had.
    create_topics: bool = Field(
        False,
        description="the commands role creates its missing topics (commands, results, DLQ) at"
        " start; off: it waits for them (`gateway topics ensure` creates them)",
    )
    topic_partitions: int = Field(
        6,
        ge=1,
        description="partitions of the commands, results and events topics the gateway creates",
    )
    dlq_partitions: int = Field(1, ge=1, description="partitions of the DLQ topic it creates")
    topic_replication_factor: int = Field(
        -1,
        ge=-1,
        description="replication factor of the topics it creates; -1: min(3, brokers)",
    )

    @field_validator("topic_replication_factor")
    @classmethod
    def _replicas(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a topic needs at least one replica (or -1: min(3, brokers))")
        return value


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
    # Requests that start on schedule can still arrive out of step (the network and the
    # scheduler add jitter). Keeping this many slots of the vendor's burst unused absorbs that.
    burst_headroom: int = Field(
        1, ge=0, description="burst slots left unused so arrival jitter stays within the limit"
    )
    # A sub-limit within the budget above, for vendors that also limit some endpoints on their
    # own: a request to such a path takes a slot of its endpoint's limit and one of the
    # account's. The safety margin applies to it as well; its burst is derived from its rate
    # (gateway.ratelimit.endpoints.endpoint_burst), as the vendor usually documents only that.
    endpoints: dict[str, float] = Field(
        default_factory=dict,
        description="per-endpoint sub-limits within the account's rate, as JSON: vendor path ->"
        ' sustained requests per second, e.g. `{"/room/get_statistic": 5}`; such a request'
        " takes a slot of its endpoint's limit and of the account's",
    )

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, value: dict[str, float]) -> dict[str, float]:
        for path, rate in value.items():
            if not path.startswith("/"):
                raise ValueError(
                    f"endpoint {path!r}: a vendor path starts with '/' (e.g. /room/get_statistic)"
                )
            if not rate > 0 or rate == float("inf"):
                raise ValueError(f"endpoint {path}: the rate must be a number > 0, got {rate}")
        return value


class PollerCadenceSettings(_Frozen):
    """One account's poller cadence, where it differs from the poller's (``GATEWAY_POLLER__*``)."""

    participants_interval_s: float | None = Field(
        None,
        gt=0,
        description="this account's room list and participants interval; unset: the poller's",
    )
    statistics_interval_s: float | None = Field(
        None, gt=0, description="this account's statistics interval; unset: the poller's"
    )
    media_servers_interval_s: float | None = Field(
        None, gt=0, description="this account's media-server interval; unset: the poller's"
    )


class VendorSettings(_Frozen):
    """The vendor account the gateway calls. The keys have no defaults: ``gateway run`` refuses
    to start without them (the simulator, the demo and the tests pass the simulator's)."""

    base_url: str = Field("http://127.0.0.1:9610", description="vendor server root (no /sdkapi/v2)")
    access_key: SecretStr | None = Field(
        None, description="vendor access key (secret); required by gateway run"
    )
    secret_key: SecretStr | None = Field(
        None, description="vendor secret key (secret); required by gateway run"
    )
    # The vendor does not document the token's lifetime: None keeps it until refused (40003).
    token_ttl_s: float | None = Field(
        None, description="refresh the token after this long; unset: when the vendor refuses it"
    )
    connect_timeout_s: float = Field(5.0, description="HTTP connect timeout")
    read_timeout_s: float = Field(30.0, description="HTTP read timeout")
    write_timeout_s: float = Field(
        30.0,
        description="HTTP write timeout of file uploads (aiohttp times no write: an upload's"
        " whole time is bounded by the pool, connect, write and read timeouts together)",
    )
    pool_timeout_s: float = Field(10.0, description="wait for a free pooled connection")
    max_connections: int = Field(100, description="HTTP connection pool size")
    keepalive_s: float = Field(15.0, description="how long an idle connection is kept open")
    rate_limit: RateLimitSettings = RateLimitSettings()
    poller: PollerCadenceSettings = PollerCadenceSettings()


class RetrySettings(_Frozen):
    """Retries of transient vendor failures: exponential backoff with full jitter."""

    max_attempts: int = Field(5, ge=1, description="vendor attempts per command at most")
    initial_wait_s: float = Field(0.2, ge=0, description="backoff window of the first retry")
    max_wait_s: float = Field(10.0, ge=0, description="largest backoff window")
    store_outcome_s: float = Field(
        30.0,
        ge=0,
        description=(
            "how long storing a mutation's outcome is retried after the vendor call (then the"
            " result is published unstored, never sent to the vendor twice)"
        ),
    )


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
    purge_interval_s: float = Field(
        300.0,
        gt=0,
        description="sqlite backend: how often expired outcomes are deleted and the file shrunk",
    )


class CommandsSettings(_Frozen):
    """The commands role: concurrency, batching of transactions, shutdown."""

    max_in_flight: int = Field(64, ge=1, description="commands processed at once (all keys)")
    max_buffered: int = Field(
        2000, ge=1, description="records fetched but not finished before fetching pauses"
    )
    commit_interval_ms: int = Field(
        0,
        ge=0,
        description="least time between two transactions that publish results and commit"
        " offsets; 0: as soon as a result is ready and no transaction runs (under load the"
        " results finished meanwhile go together in the next)",
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
    revoke_grace_s: float = Field(
        5.0,
        ge=0,
        description=(
            "time in-flight work of revoked partitions gets to finish before it is left to"
            " their new owner"
        ),
    )
    max_processing_failures: int = Field(
        10,
        ge=1,
        description=(
            "tries of a record whose processing fails on infrastructure (store, broker) before"
            " it goes to the dead-letter topic"
        ),
    )
    result_type_prefix: str = Field("avd", description="CloudEvents type prefix of results")
    source: str = Field("/vendor-gateway", description="CloudEvents source of results")
    upload_inline_max_bytes: int = Field(
        512 * 1024, ge=0, description="largest FileUpload content_base64 accepted"
    )
    upload_source_max_bytes: int = Field(
        50 * 1024 * 1024, ge=0, description="largest file FileUpload streams from source_url"
    )
    # FileUpload.source_url is a server-side fetch (SSRF): off unless hosts are allowed, https
    # only, never to a private address, at most upload_concurrency at once.
    upload_source_hosts: Annotated[list[str], NoDecode] = Field(
        [],
        description=(
            "hosts FileUpload may fetch source_url from: names, *.domain (its subdomains) or *"
            " (any public host); space/comma-separated or a JSON list; empty: source_url refused"
        ),
    )
    upload_source_allow_http: bool = Field(
        False, description="let source_url use plain http (default: https only)"
    )
    upload_source_allow_private: bool = Field(
        False,
        description=(
            "let source_url reach loopback, private and link-local addresses (tests and local"
            " development only: never in a cluster)"
        ),
    )
    upload_source_timeout_s: float = Field(
        60.0, gt=0, description="longest a source_url download may take (the deadline also caps it)"
    )
    upload_concurrency: int = Field(
        2, ge=1, description="FileUploads from source_url downloading or uploading at once"
    )
    upload_spool_dir: str | None = Field(
        None,
        description=(
            "directory source_url downloads are spooled to (up to upload_concurrency x"
            " upload_source_max_bytes); unset: the system temporary directory"
        ),
    )

    @field_validator("upload_source_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else re.split(r"[\s,]+", text)
        if isinstance(value, list | tuple):
            return [
                h.strip().lower().rstrip(".") for h in value if isinstance(h, str) and h.strip()
            ]
        return value

    @field_validator("upload_source_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            name = host.removeprefix("*.")
            if host != "*" and not re.fullmatch(r"[a-z0-9_.:\[\]-]+", name):
                raise ValueError(f"not a host name, *.domain or *: {host!r}")
        return value


class RedisSettings(_Frozen):
    """Redis, for stores and limits shared by replicas; unset means in-process only."""

    url: SecretStr | None = Field(
        None,
        description="redis://[:password@]host:port/db; unset: in-process only (secret: it may"
        " hold the password)",
    )
    password: SecretStr | None = Field(None, description="Redis password (secret)")


class WebhookSettings(_Frozen):
    """The webhooks role: the signed HTTP ingress for commands (and /healthz)."""

    # A rejected secret must not end up in the error message that reports it (built alone,
    # or inside GatewaySettings, which hides inputs too).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(8080, ge=0, le=65535, description="port to listen on")
    # NoDecode: the environment may give one secret or several separated by spaces or commas,
    # or a JSON list; the validator below reads all three.
    secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description=(
            "Standard Webhooks signing secrets (whsec_<base64>, at least 24 key bytes), each its"
            " own sender (id key-<hash>); space/comma-separated or a JSON list (secret)"
        ),
    )
    senders: Annotated[dict[str, list[SecretStr]], NoDecode] = Field(
        default_factory=dict,
        description=(
            'named senders and their signing secrets: JSON {"name": "whsec_..." or a list}'
            " or name=whsec_... items; a name given twice has both secrets (rotation) (secret)"
        ),
    )
    tolerance_s: float = Field(
        300.0, gt=0, description="accept a webhook-timestamp this far in the past or future"
    )
    max_body_bytes: int = Field(
        1_000_000,
        ge=1,
        description="largest request body; keep below Kafka's max message size (1 MiB by default)",
    )
    body_timeout_s: float = Field(
        10.0, gt=0, description="a request body not received in full within this time gets 408"
    )
    client_rate_per_s: float = Field(
        50.0, gt=0, description="requests per second one signed sender may make (per replica)"
    )
    client_burst: int = Field(100, ge=1, description="requests one signed sender may make at once")
    failed_auth_rate_per_s: float = Field(
        1.0,
        gt=0,
        description="unsigned or wrongly signed requests per second one client address may make",
    )
    failed_auth_burst: int = Field(
        10,
        ge=1,
        description="unsigned or wrongly signed requests one client address may make at once",
    )
    wait_max_s: float = Field(
        30.0, ge=0, description="longest ?wait= honoured on POST /v1/commands"
    )
    max_waiters: int = Field(
        256,
        ge=0,
        description="requests waiting (?wait=) at once; beyond it a POST answers 202 at once",
    )
    limit_concurrency: int = Field(
        1000, ge=1, description="connections and requests at once; beyond it uvicorn answers 503"
    )
    publish_timeout_s: float = Field(
        10.0, gt=0, description="answer 503 when Kafka has not taken a command within this time"
    )
    results_index_size: int = Field(
        10_000,
        ge=1,
        description="results kept in memory (by sender and id) for GET /v1/commands/{id}",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description=(
            "proxies (IP addresses or CIDRs, comma-separated) trusted to name the client in"
            " X-Forwarded-For; empty: none"
        ),
    )
    shutdown_grace_s: float = Field(
        10.0, ge=0, description="time to finish open requests on SIGTERM"
    )

    @field_validator("secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.replace(",", " ").split() if part]
        return value

    @field_validator("secrets")
    @classmethod
    def _check_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for number, secret in enumerate(value, 1):
            _webhook_key(secret.get_secret_value(), f"webhook secret #{number}")
        return value

    @field_validator("senders", mode="before")
    @classmethod
    def _split_senders(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                value = json.loads(text)
            else:
                pairs: dict[str, list[str]] = {}
                for item in text.replace(",", " ").split():
                    name, sep, secret = item.partition("=")
                    if not sep or not secret.startswith("whsec_"):
                        raise ValueError("a sender item is not name=whsec_<base64>")
                    pairs.setdefault(name, []).append(secret)
                return pairs
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str | SecretStr) else v for k, v in value.items()}
        return value

    @field_validator("senders")
    @classmethod
    def _check_senders(cls, value: dict[str, list[SecretStr]]) -> dict[str, list[SecretStr]]:
        # Senders are named by position: a misplaced secret could stand where the name goes.
        for position, (name, secrets) in enumerate(value.items(), 1):
            if not _SENDER_NAME.fullmatch(name) or name.startswith(("key-", "whsec_")):
                raise ValueError(
                    f"the name of sender #{position} must be 1 to 64 of A-Z a-z 0-9 . _ - and"
                    " not start with key- or whsec_"
                )
            if not secrets:
                raise ValueError(f"sender #{position} has no secret")
            for number, secret in enumerate(secrets, 1):
                _webhook_key(secret.get_secret_value(), f"secret #{number} of sender #{position}")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    "forwarded_allow_ips lists IP addresses or CIDRs (no '*': with it any client"
                    " could name itself in X-Forwarded-For)"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_sender_per_secret(self) -> WebhookSettings:
        seen: set[bytes] = set()
        keys = [s.get_secret_value() for s in self.secrets]
        keys += [s.get_secret_value() for secrets in self.senders.values() for s in secrets]
        for raw in keys:
            key = _webhook_key(raw, "a webhook secret")
            if key in seen:
                raise ValueError("the same webhook secret is given twice (one secret, one sender)")
            seen.add(key)
        return self


#: Standard Webhooks secrets are 24 to 64 random bytes; a shorter key is refused at load.
WEBHOOK_KEY_MIN_BYTES = 24
_SENDER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _webhook_key(raw: str, what: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; errors name ``what``, never the value."""
    body = raw.removeprefix("whsec_")
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not raw.startswith("whsec_") or not key:
        raise ValueError(f"{what} is not whsec_<base64>")
    if len(key) < WEBHOOK_KEY_MIN_BYTES:
        raise ValueError(f"{what} has fewer than {WEBHOOK_KEY_MIN_BYTES} key bytes")
    return key


class OpsSettings(_Frozen):
    """The operations endpoint every `gateway run` process serves (/healthz, /readyz, /metrics)."""

    enabled: bool = Field(True, description="serve the operations endpoint")
    host: str = Field(
        "127.0.0.1", description="address of the operations endpoint (0.0.0.0 in a container)"
    )
    port: int = Field(9464, ge=1, le=65535, description="port of the operations endpoint")


class PollerSettings(_Frozen):
    """The poller role: cadence, which rooms, leadership, the durable snapshot, event attributes."""

    accounts: list[str] = Field(
        [],
        description='vendor accounts the poller reads (JSON list, e.g. ["default","eu"]);'
        " empty: every configured account",
    )
    participants_interval_s: float = Field(
        5.0, gt=0, description="seconds between reads of the room list and participants"
    )
    statistics_interval_s: float = Field(
        60.0, gt=0, description="seconds between reads of room statistics"
    )
    media_servers_interval_s: float = Field(
        15.0, gt=0, description="seconds between reads of media-server user counts"
    )
    jitter: float = Field(
        0.1, ge=0, lt=1, description="each interval varies randomly by up to this fraction"
    )
    rooms: list[str] = Field(
        [], description="room ids to watch (JSON list); empty: every open room"
    )
    max_rooms_per_cycle: int = Field(
        500,
        ge=1,
        description="rooms one cycle reads participants (and statistics) of; more: round-robin",
    )
    concurrency: int = Field(8, ge=1, description="poller vendor reads in flight at once")
    cycle_timeout_s: float = Field(
        120.0, gt=0, description="a cycle's vendor reads give up after this long"
    )
    statistics_window_s: float = Field(
        86400.0, gt=0, description="room statistics count the last this many seconds"
    )
    final_statistics_grace_s: float = Field(
        600.0,
        gt=0,
        description="a closed room's final statistics are given up after this long unreadable",
    )
    failover_s: float = Field(
        30.0, ge=2, description="a replica takes over within this long after the active poller dies"
    )
    lease_topic: str = Field(
        "vendor.poller-lease",
        description="one-partition topic whose consumer group elects the poller",
    )
    lease_group: str = Field(
        "vendor-gateway-poller", description="consumer group of the poller lease"
    )
    transactional_id: str = Field(
        "vendor-gateway-poller",
        description="transactional id of the active poller, the same on every replica (fencing)",
    )
    state_topic: str = Field(
        "vendor.poller-state", description="compacted topic of the poller's last-seen snapshot"
    )
    state_load_timeout_s: float = Field(
        60.0, gt=0, description="a new active poller gives up reading the snapshot after this long"
    )
    create_topics: bool = Field(True, description="create the lease and state topics if missing")
    topic_replication_factor: int = Field(
        -1, description="replication factor of the topics it creates; -1: min(3, brokers)"
    )
    event_type_prefix: str = Field("avd", description="CloudEvents type prefix of change events")
    source: str = Field("/vendor-gateway/poller", description="CloudEvents source of change events")


class GatewaySettings(BaseSettings):
    """All settings of the gateway."""

    # hide_input_in_errors: a value that fails validation may be a secret (a webhook secret,
    # a password); errors name the setting and the reason, never the value.
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
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
    webhooks: WebhookSettings = WebhookSettings()
    ops: OpsSettings = OpsSettings()
    poller: PollerSettings = PollerSettings()
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json lines, console lines, or auto (console in a terminal)"
    )

    @field_validator("accounts")
    @classmethod
    def _account_names(cls, value: dict[str, VendorSettings]) -> dict[str, VendorSettings]:
        # Names go into Redis keys, poller state keys and event attributes.
        for name in value:
            if name == "default" or not _ACCOUNT_NAME.fullmatch(name):
                raise ValueError(
                    f"account name {name!r}: letters, digits, '_', '-' or '.', and not 'default'"
                )
        return value

    def account_names(self) -> list[str]:
        """Every configured account: "default" first, then the others by name."""
        return ["default", *sorted(self.accounts)]

    def account(self, name: str) -> VendorSettings | None:
        """The settings of vendor account ``name`` ("default" is ``vendor``)."""
        return self.vendor if name == "default" else self.accounts.get(name)

    def missing_vendor_keys(self) -> list[str]:
        """The environment variables of vendor keys that are not set, every account's."""
        missing = []
        configured = {"VENDOR": self.vendor} | {
            f"ACCOUNTS__{name.upper()}": vendor for name, vendor in self.accounts.items()
        }
        for prefix, vendor in configured.items():
            for field in ("access_key", "secret_key"):
                value = getattr(vendor, field)
                if value is None or not value.get_secret_value():
                    missing.append(f"GATEWAY_{prefix}__{field.upper()}")
        return missing

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
