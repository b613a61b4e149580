"""The Kafka broker and Redis the suite runs against, and restarting them.

Addresses: ``GATEWAY_TEST_KAFKA`` / ``GATEWAY_TEST_REDIS`` when set (as in the tests), else the
local services of ``scripts/services.sh up`` (127.0.0.1, ``KAFKA_PORT`` / ``REDIS_PORT``).
Restarting is only ever done to the project's own local services, through
``scripts/kafka.sh`` / ``scripts/redis.sh``, and only when their pid files show that those
scripts started them: the suite never stops a broker or a Redis that someone else runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from pathlib import Path

import redis
from aiokafka.client import AIOKafkaClient

__all__ = [
    "ROOT",
    "ServiceError",
    "kafka_bootstrap",
    "kafka_ready",
    "kafka_restart_refusal",
    "redis_ready",
    "redis_restart_refusal",
    "redis_url",
    "run_script",
]

ROOT = Path(__file__).resolve().parent.parent
KAFKA_PORT = os.environ.get("KAFKA_PORT", "9092")
REDIS_PORT = os.environ.get("REDIS_PORT", "6379")
LOCAL_KAFKA = f"127.0.0.1:{KAFKA_PORT}"
LOCAL_REDIS = f"redis://127.0.0.1:{REDIS_PORT}/0"


class ServiceError(RuntimeError):
    """A service the suite needs does not answer, or a script failed."""


def kafka_bootstrap() -> str:
    """The bootstrap address the suite uses."""
    return os.environ.get("GATEWAY_TEST_KAFKA", "").strip() or LOCAL_KAFKA


def redis_url() -> str:
    """The Redis URL the suite uses."""
    return os.environ.get("GATEWAY_TEST_REDIS", "").strip() or LOCAL_REDIS


def _is_local_kafka(address: str) -> bool:
    return address in {LOCAL_KAFKA, f"localhost:{KAFKA_PORT}"}


def _is_local_redis(url: str) -> bool:
    return url.rstrip("/") in {
        LOCAL_REDIS,
        f"redis://localhost:{REDIS_PORT}/0",
        f"redis://127.0.0.1:{REDIS_PORT}",
        f"redis://localhost:{REDIS_PORT}",
    }


def _pid_runs(pid_file: Path, needle: str) -> bool:
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return False
    return needle in cmdline and "\nState:\tZ" not in status


def kafka_restart_refusal() -> str | None:
    """Why the Kafka broker must not be restarted by the suite, or None when it may."""
    address = kafka_bootstrap()
    if not _is_local_kafka(address):
        return (
            f"GATEWAY_TEST_KAFKA={address!r} points elsewhere: this case stops and starts the "
            f"broker, and does so only to the project's local one ({LOCAL_KAFKA}, "
            "scripts/kafka.sh). Unset GATEWAY_TEST_KAFKA to run it against the local broker."
        )
    if not _pid_runs(ROOT / ".cache" / "kafka" / "kafka.pid", "kafka.Kafka"):
        return (
            f"the broker on {address} was not started by scripts/kafka.sh (no live "
            ".cache/kafka/kafka.pid), so `scripts/kafka.sh stop` would leave it alone; "
            "run `scripts/services.sh down && scripts/services.sh up` to use the local one"
        )
    return None


def redis_restart_refusal() -> str | None:
    """Why Redis must not be restarted by the suite, or None when it may."""
    url = redis_url()
    if not _is_local_redis(url):
        return (
            f"GATEWAY_TEST_REDIS={url!r} points elsewhere: this case stops and starts Redis, "
            f"and does so only to the project's local one ({LOCAL_REDIS}, scripts/redis.sh)."
        )
    if not _pid_runs(ROOT / ".cache" / "redis" / "redis.pid", "redis-server"):
        return (
            f"the Redis on {url} was not started by scripts/redis.sh (no live "
            ".cache/redis/redis.pid), so `scripts/redis.sh stop` would leave it alone"
        )
    return None


def run_script(*argv: str, timeout: float = 180.0) -> float:
    """Run one of the project's scripts (e.g. ``scripts/kafka.sh stop``); seconds it took."""
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own scripts
        list(argv), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ServiceError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.monotonic() - started


async def _metadata(bootstrap: str, seconds: float) -> bool:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(seconds * 1000))
    try:
        async with asyncio.timeout(seconds):
            await client.bootstrap()
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()


async def kafka_ready(within: float = 5.0) -> bool:
    """True if the broker answers a Metadata request listing a broker."""
    return await _metadata(kafka_bootstrap(), within)


def redis_ready(within: float = 3.0) -> bool:
    """True if Redis answers PING."""
    try:
        with redis.Redis.from_url(
            redis_url(), socket_connect_timeout=within, socket_timeout=within
        ) as client:
            return client.ping() is True
    except Exception:
        return False
