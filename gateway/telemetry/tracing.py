"""OpenTelemetry tracing: the provider, and W3C trace context on Kafka records.

The vendor HTTP attempts get spans of their own (``gateway/vendor_api/transport.py``) rather than
httpx's instrumentation, because that instrumentation records the full URL, and the vendor's
GET-only endpoints carry the token in the query string. Spans carry the vendor path and
result code, never a URL with a query, a token, a key or a password.

Spans are made only when something receives them (an OTLP endpoint is configured, or a test
installs a processor): otherwise :func:`span` makes none and costs next to nothing, and the
caller's trace context is passed through as it came (the result's ``traceparent`` is the
command's; log lines carry its trace id). An SDK with no exporter would build, sample and drop
a few spans per command, about a tenth of the commands role's CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind
from opentelemetry.util.types import AttributeValue

__all__ = [
    "configure_tracing",
    "extract_context",
    "inject_traceparent",
    "producer_span",
    "span",
    "tracer",
    "tracing_enabled",
]

tracer = trace.get_tracer("gateway")
_enabled = False


def tracing_enabled() -> bool:
    """Whether spans are made (something receives them)."""
    return _enabled


def configure_tracing(
    service: str, processors: Sequence[SpanProcessor] = ()
) -> TracerProvider | None:
    """Install the global tracer provider if anything receives spans: OTLP export when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set, and ``processors``.
    Otherwise none: no span is made (see the module's docstring).

    The standard ``OTEL_*`` variables (service name, resource attributes, sampler, exporter
    headers) are read by the SDK itself.
    """
    global _enabled
    otlp = bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    if not (otlp or processors):
        return None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    for processor in processors:
        provider.add_span_processor(processor)
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _enabled = True
    return provider


_NO_SPAN = nullcontext(INVALID_SPAN)  # reusable: enters to the same no-op span every time


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: otel_context.Context | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> AbstractContextManager[Span]:
    """A span as current while the block runs, if tracing is enabled; else no span, and the
    given (caller's) ``context`` is made current, so it travels on unchanged."""
    if _enabled:
        made: AbstractContextManager[Span] = tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=attributes
        )
        return made
    if context is None:
        return _NO_SPAN
    return _callers_context(context)


@contextmanager
def _callers_context(context: otel_context.Context) -> Iterator[Span]:
    token = otel_context.attach(context)
    try:
        yield INVALID_SPAN
    finally:
        otel_context.detach(token)


def extract_context(headers: Sequence[tuple[str, bytes | None]]) -> otel_context.Context | None:
    """The caller's trace context from Kafka record headers (``traceparent``, ``tracestate``);
    None when they carry none."""
    carrier = {
        name.lower(): value.decode("latin-1") for name, value in headers if value is not None
    }
    if "traceparent" not in carrier:
        return None
    return propagate.extract(carrier)


def inject_traceparent() -> dict[str, str]:
    """The current span's context as W3C headers, to put on an outgoing record."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def producer_span(topic: str) -> Iterator[Span]:
    """The span of sending a record to ``topic`` (messaging semantic conventions)."""
    with span(
        f"send {topic}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    ) as made:
        yield made
