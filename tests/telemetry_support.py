"""One in-memory span exporter for the whole test session (OTel allows one global provider)."""

from __future__ import annotations

from functools import cache

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.telemetry.tracing import configure_tracing

__all__ = ["span_exporter"]


@cache
def span_exporter() -> InMemorySpanExporter:
    """The session's exporter; install the provider on first use."""
    exporter = InMemorySpanExporter()
    configure_tracing("vendor-gateway-tests", [SimpleSpanProcessor(exporter)])
    return exporter
