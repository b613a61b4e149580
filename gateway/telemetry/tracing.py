"""OpenTelemetry tracing: the provider, and W3C trace context on Kafka records.

The vendor HTTP attempts get spans of their own (``gateway/vendor_api/transport.py``) rather than
httpx's instrumentation, because that instrumentation records the full URL, and the vendor's
GET-only endpoints carry the token in the query string. Spans carry the vendor path and
result code, never a URL with a query, a token, a key or a password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

__all__ = [
    "configure_tracing",
    "extract_context",
    "inject_traceparent",
    "producer_span",
    "tracer",
]

tracer = trace.get_tracer("gateway")


def configure_tracing(service: str, processors: Sequence[SpanProcessor] = ()) -> TracerProvider:
    """Install the global tracer provider; OTLP export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

    The standard ``OTEL_*`` variables (service name, resource attributes, sampler, exporter
    headers) are read by the SDK itself.
    """
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    for processor in processors:
        provider.add_span_processor(processor)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def extract_context(headers: Sequence[tuple[str, bytes | None]]) -> otel_context.Context:
    """The caller's trace context from Kafka record headers (``traceparent``, ``tracestate``)."""
    carrier = {
        name.lower(): value.decode("latin-1") for name, value in headers if value is not None
    }
    return propagate.extract(carrier)


def inject_traceparent() -> dict[str, str]:
    """The current span's context as W3C headers, to put on an outgoing record."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def producer_span(topic: str) -> Iterator[Span]:
    """The span of sending a record to ``topic`` (messaging semantic conventions)."""
    with tracer.start_as_current_span(
        f"send {topic}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    ) as span:
        yield span
