"""Where the integration tests find a real Kafka and a real Redis.

Each address is resolved once per test session, in this order:

1. ``GATEWAY_TEST_KAFKA`` (a bootstrap address, ``host:port``) /
   ``GATEWAY_TEST_REDIS`` (a URL, ``redis://host:port/db``) when set. It must answer:
   an explicit address that is down fails at once rather than quietly testing
   against something else.
2. A Docker engine, when one answers: testcontainers starts ``apache/kafka`` (KRaft)
   and ``redis`` for the session; they are removed at interpreter exit.
   Set ``GATEWAY_TEST_DOCKER=0`` to skip this step.
3. The local services started by ``scripts/services.sh up`` on 127.0.0.1
   (``KAFKA_PORT``, default 9092; ``REDIS_PORT``, default 6379).

Every candidate is checked with a real request (a Kafka Metadata request that lists
a broker, a Redis PING), not just a TCP connect. When nothing works,
:class:`ServiceUnavailableError` says what was tried and why each failed; the
fixtures then error, so pytest fails: a missing service never turns into a skip.

Use from ``tests/conftest.py``::

    from tests.services import kafka_bootstrap, redis_url  # noqa: F401

and in tests: ``async def test_x(kafka_bootstrap: str, redis_url: str): ...``.
Outside fixtures, :func:`get_kafka_bootstrap` / :func:`get_redis_url` return the same
(cached) values.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import os
import tarfile
import threading
import time
import warnings
from collections.abc import Callable, Coroutine
from io import BytesIO
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import redis
from aiokafka.client import AIOKafkaClient

from rigkit.topics import create_topics, unique_name

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

__all__ = [
    "ServiceUnavailableError",
    "create_topic",
    "get_kafka_bootstrap",
    "get_redis_url",
    "kafka_bootstrap",
    "redis_url",
    "unique_topic",
]

KAFKA_ENV = "GATEWAY_TEST_KAFKA"
REDIS_ENV = "GATEWAY_TEST_REDIS"
DOCKER_ENV = "GATEWAY_TEST_DOCKER"
# Same version as scripts/kafka/pom.xml, so Docker and local runs test the same broker.
KAFKA_IMAGE = os.environ.get("GATEWAY_TEST_KAFKA_IMAGE", "apache/kafka:4.4.0")
REDIS_IMAGE = os.environ.get("GATEWAY_TEST_REDIS_IMAGE", "redis:7-alpine")

HOW_TO_START = (
    "Start the local services with `scripts/services.sh up` (from the repo root), "
    f"or set {KAFKA_ENV}=host:port / {REDIS_ENV}=redis://host:port/0 to use running ones."
)

T = TypeVar("T")


class ServiceUnavailableError(RuntimeError):
    """No Kafka / Redis could be found for the tests; the message says what was tried."""


def _local_kafka() -> str:
    return f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"


def _local_redis() -> str:
    return f"redis://127.0.0.1:{os.environ.get('REDIS_PORT', '6379')}/0"


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).strip() or "(no message)"
    return text if text.startswith(name) else f"{name}: {text}"


# --------------------------------------------------------------------------- checks


def _run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private event loop in a helper thread.

    The resolvers are synchronous and may be called while pytest-asyncio's session loop
    is running (from an async fixture or test), where ``asyncio.run`` would refuse.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="services-check", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def _kafka_metadata(bootstrap: str, seconds: float) -> None:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(seconds * 1000))
    try:
        # bootstrap() sends a Metadata request to the given address.
        async with asyncio.timeout(seconds):
            await client.bootstrap()
        if not client.cluster.brokers():
            raise RuntimeError("the Metadata response listed no brokers")
    finally:
        await client.close()


def check_kafka(bootstrap: str, timeout: float = 10.0) -> None:
    """Raise unless a broker at ``bootstrap`` answers a Metadata request."""
    _run_async(lambda: _kafka_metadata(bootstrap, timeout))


def check_redis(url: str, timeout: float = 5.0) -> None:
    """Raise unless the Redis at ``url`` answers PING."""
    with redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout
    ) as client:
        if client.ping() is not True:
            raise RuntimeError("PING did not answer PONG")


def _wait_until(check: Callable[[], None], timeout: float) -> None:
    """Retry ``check`` until it passes or ``timeout`` seconds have gone (then re-raise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


# --------------------------------------------------------------------------- docker

_docker_verdict: tuple[bool, str] | None = None
_containers: list[DockerContainer] = []


def _docker_available() -> tuple[bool, str]:
    """(True, "") if a Docker engine answers a ping within a few seconds, else (False, why)."""
    global _docker_verdict
    if _docker_verdict is None:
        if os.environ.get(DOCKER_ENV, "").strip().lower() in {"0", "false", "no", "off"}:
            _docker_verdict = (False, f"disabled by {DOCKER_ENV}={os.environ[DOCKER_ENV]}")
        else:
            # The docker SDK (what testcontainers uses) rather than `docker info`: the CLI can
            # reach engines through contexts that the SDK does not know about.
            # docker-py leaks the socket of a failed connect; with pytest's
            # `filterwarnings = error` its ResourceWarning would fail a random later test,
            # so it is collected here, right away, with that warning ignored.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    import docker

                    client = docker.from_env(timeout=5)
                    try:
                        client.ping()
                    finally:
                        client.close()
                    _docker_verdict = (True, "")
                except Exception as exc:
                    _docker_verdict = (False, f"no Docker engine answers ({_describe(exc)})")
                finally:
                    gc.collect()
    return _docker_verdict


def _stop_containers() -> None:
    while _containers:
        container = _containers.pop()
        # Best effort at exit; testcontainers' reaper (Ryuk) removes leftovers anyway.
        with contextlib.suppress(Exception):
            container.stop()


def _keep(container: DockerContainer) -> None:
    if not _containers:
        atexit.register(_stop_containers)
    _containers.append(container)


def _start_kafka_container() -> str:
    """Start apache/kafka (KRaft, one node) and return its bootstrap address.

    testcontainers' own KafkaContainer drives Confluent's cp-kafka start scripts, which
    the apache/kafka image does not have. This does the same trick for apache/kafka:
    the container waits for a start script, which we write once the host port is
    known, because the broker must advertise the address clients reach it on.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    start_script = "/gateway-start.sh"
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_exposed_ports(9092)
        .with_envs(
            CLUSTER_ID="4L6g3nShT-eMCtK--X86sw",
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=(
                "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT"
            ),
            KAFKA_INTER_BROKER_LISTENER_NAME="BROKER",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9094",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_MIN_INSYNC_REPLICAS="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="true",
            KAFKA_NUM_PARTITIONS="1",
        )
        .with_command(
            [
                "bash",
                "-c",
                f"while [ ! -f {start_script} ]; do sleep 0.1; done; exec bash {start_script}",
            ]
        )
    )
    container.start()
    _keep(container)  # from here on it is removed at exit even if the rest fails
    host = container.get_container_host_ip()
    port = container.get_exposed_port(9092)
    script = (
        f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{host}:{port},BROKER://localhost:9093\n"
        "exec /etc/kafka/docker/run\n"
    ).encode()
    with BytesIO() as archive:
        with tarfile.TarFile(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name=start_script)
            info.size = len(script)
            info.mode = 0o755
            info.mtime = int(time.time())
            tar.addfile(info, BytesIO(script))
        archive.seek(0)
        container.get_wrapped_container().put_archive("/", archive)
    LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120).wait_until_ready(
        container
    )
    bootstrap = f"{host}:{port}"
    _wait_until(lambda: check_kafka(bootstrap, timeout=5), timeout=60)
    return bootstrap


def _start_redis_container() -> str:
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE)
    container.start()  # waits for PING itself
    _keep(container)
    url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    check_redis(url)
    return url


# --------------------------------------------------------------------------- resolution


def _resolve(
    service: str,
    env_var: str,
    check: Callable[[str], None],
    start_container: Callable[[], str],
    image: str,
    local: str,
    local_how: str,
) -> str:
    tried: list[str] = []

    explicit = os.environ.get(env_var, "").strip()
    if explicit:
        try:
            check(explicit)
            return explicit
        except Exception as exc:
            raise ServiceUnavailableError(
                f"{service}: {env_var}={explicit!r} is set but does not answer: {_describe(exc)}. "
                "An explicit address is not silently replaced by Docker or the local service; "
                f"fix it or unset {env_var}. {HOW_TO_START}"
            ) from exc
    tried.append(f"{env_var}: not set")

    docker_ok, why_not = _docker_available()
    if docker_ok:
        try:
            return start_container()
        except Exception as exc:
            tried.append(f"Docker ({image} via testcontainers): failed to start: {_describe(exc)}")
    else:
        tried.append(f"Docker ({image} via testcontainers): {why_not}")

    try:
        check(local)
        return local
    except Exception as exc:
        tried.append(f"local {local} ({local_how}): {_describe(exc)}")

    lines = "\n".join(f"  {i}. {line}" for i, line in enumerate(tried, 1))
    raise ServiceUnavailableError(
        f"No {service} for the integration tests. Tried, in order:\n{lines}\n{HOW_TO_START}"
    )


class _Once:
    """Resolve once per process; a failure is remembered too (no retry storm per test)."""

    def __init__(self, resolve: Callable[[], str]) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self._value: str | None = None
        self._error: ServiceUnavailableError | None = None

    def __call__(self) -> str:
        with self._lock:
            if self._value is None and self._error is None:
                try:
                    self._value = self._resolve()
                except ServiceUnavailableError as exc:
                    self._error = exc
            if self._error is not None:
                raise ServiceUnavailableError(str(self._error)) from None
            assert self._value is not None
            return self._value


get_kafka_bootstrap = _Once(
    lambda: _resolve(
        "Kafka",
        KAFKA_ENV,
        check_kafka,
        _start_kafka_container,
        KAFKA_IMAGE,
        _local_kafka(),
        "scripts/kafka.sh; checked with a Metadata request",
    )
)
"""Bootstrap address (``host:port``) of a Kafka that answers; resolved once per session."""

get_redis_url = _Once(
    lambda: _resolve(
        "Redis",
        REDIS_ENV,
        check_redis,
        _start_redis_container,
        REDIS_IMAGE,
        _local_redis(),
        "scripts/redis.sh; checked with PING",
    )
)
"""URL (``redis://host:port/db``) of a Redis that answers; resolved once per session."""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Kafka bootstrap address for the session (see module docstring for the order)."""
    return get_kafka_bootstrap()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis URL for the session (see module docstring for the order)."""
    return get_redis_url()


# --------------------------------------------------------------------------- helpers


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test (or earlier run against the same broker) uses."""
    return unique_name(prefix, 12)


async def create_topic(
    bootstrap: str, name: str, partitions: int = 1, *, within: float = 30.0
) -> str:
    """Create ``name`` (replication factor 1) and wait until every partition has a leader.

    Gives up after ``within`` seconds. An already existing topic is fine. Returns ``name``.
    """
    await create_topics(bootstrap, [(name, partitions)], within=within)
    return name
