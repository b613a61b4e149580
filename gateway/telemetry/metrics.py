"""Prometheus metrics of the gateway (prometheus-client, default registry).

Labels are bounded sets (command type, status, vendor path, ret code, lane, role, topic and
partition number): never ids, keys, URLs or anything secret.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ASYNCIO_TASKS",
    "COMMANDS",
    "COMMAND_ATTEMPTS",
    "CONSUMER_LAG",
    "DLQ",
    "IDEMPOTENCY_PURGED",
    "IDEMPOTENCY_REPLAYS",
    "IDEMPOTENCY_STORE_BYTES",
    "IDEMPOTENCY_VOLUME_AVAILABLE_BYTES",
    "IDEMPOTENCY_VOLUME_BYTES",
    "IN_FLIGHT",
    "METRIC_NAMES",
    "POLLER_CYCLE",
    "POLLER_EVENTS",
    "POLLER_READS_PENDING",
    "RATELIMIT_WAIT",
    "VENDOR_LATENCY",
    "VENDOR_REQUESTS",
    "WEBHOOK_REQUESTS",
    "child",
    "track_asyncio_tasks",
]

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)


@functools.lru_cache(maxsize=4096)
def _child(metric: Any, labels: tuple[str, ...]) -> Any:
    return metric.labels(*labels)


def child(metric: MetricT, *labels: str) -> MetricT:
    """``metric.labels(*labels)``, remembered: the hot path asks for the same few children of
    each metric for every command, and ``labels()`` takes a lock and checks them each time."""
    child_metric: MetricT = _child(metric, labels)
    return child_metric


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

COMMANDS = Counter("gateway_commands", "Commands finished, by type and status.", ["type", "status"])
COMMAND_ATTEMPTS = Histogram(
    "gateway_command_attempts",
    "Vendor attempts per finished command.",
    ["type"],
    buckets=(0, 1, 2, 3, 4, 5, 7, 10),
)
VENDOR_REQUESTS = Counter(
    "gateway_vendor_requests",
    "HTTP requests to the vendor, by path and result code (or transport error class).",
    ["endpoint", "ret"],
)
VENDOR_LATENCY = Histogram(
    "gateway_vendor_request_seconds",
    "Time from sending a vendor request to its answer.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
)
RATELIMIT_WAIT = Histogram(
    "gateway_ratelimit_wait_seconds",
    "Time a vendor request waited for its rate-limit slot.",
    ["lane"],
    buckets=(0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge("gateway_in_flight", "Commands being processed now.")
IDEMPOTENCY_REPLAYS = Counter(
    "gateway_idempotency_replays", "Results served from the idempotency store.", ["type"]
)
IDEMPOTENCY_STORE_BYTES = Gauge(
    "gateway_idempotency_store_bytes",
    "Size of the SQLite idempotency store (file and write-ahead log), after the last purge.",
)
IDEMPOTENCY_VOLUME_BYTES = Gauge(
    "gateway_idempotency_volume_bytes", "Size of the file system the SQLite store lives on."
)
IDEMPOTENCY_VOLUME_AVAILABLE_BYTES = Gauge(
    "gateway_idempotency_volume_available_bytes",
    "Free space on the file system the SQLite store lives on.",
)
IDEMPOTENCY_PURGED = Counter(
    "gateway_idempotency_purged", "Expired idempotency records deleted from the SQLite store."
)
DLQ = Counter("gateway_dlq", "Records sent to the dead-letter topic.", ["error_class"])
CONSUMER_LAG = Gauge(
    "gateway_consumer_lag",
    "Records in the commands topic not yet committed, per partition.",
    ["topic", "partition"],
)
POLLER_CYCLE = Histogram(
    "gateway_poller_cycle_seconds",
    "Duration of one poller cycle, by data kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
POLLER_EVENTS = Counter("gateway_poller_events", "Change events emitted, by type.", ["type"])
POLLER_READS_PENDING = Gauge(
    "gateway_poller_reads_pending",
    "Per-room vendor reads of the running poller cycle not yet finished (each one an asyncio"
    " task, waiting for its rate-limit slot or its answer).",
)
WEBHOOK_REQUESTS = Counter(
    "gateway_webhook_requests",
    "Webhook ingress requests, by route and status.",
    ["route", "status"],
)
ASYNCIO_TASKS = Gauge(
    "gateway_asyncio_tasks",
    "asyncio tasks of this process's event loop not yet done (read at each scrape).",
)


def track_asyncio_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Let ``gateway_asyncio_tasks`` count ``loop``'s unfinished tasks whenever it is scraped:
    a count that keeps rising under steady load is a task leak. It costs one pass over the
    loop's task set per scrape, nothing in between."""
    ASYNCIO_TASKS.set_function(lambda: len(asyncio.all_tasks(loop)))


#: Every sample name this module exposes on /metrics (counters get a _total suffix).
METRIC_NAMES = (
    "gateway_commands_total",
    "gateway_command_attempts",
    "gateway_vendor_requests_total",
    "gateway_vendor_request_seconds",
    "gateway_ratelimit_wait_seconds",
    "gateway_in_flight",
    "gateway_idempotency_replays_total",
    "gateway_idempotency_store_bytes",
    "gateway_idempotency_volume_bytes",
    "gateway_idempotency_volume_available_bytes",
    "gateway_idempotency_purged_total",
    "gateway_dlq_total",
    "gateway_consumer_lag",
    "gateway_poller_cycle_seconds",
    "gateway_poller_events_total",
    "gateway_poller_reads_pending",
    "gateway_webhook_requests_total",
    "gateway_asyncio_tasks",
)
