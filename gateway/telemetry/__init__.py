"""Tracing, metrics and logging: set up once at the edge, used everywhere through these names."""

from gateway.telemetry import metrics
from gateway.telemetry.tracing import (
    extract_context,
    inject_traceparent,
    tracer,
)

__all__ = ["extract_context", "inject_traceparent", "metrics", "tracer"]
