"""Logging: JSON lines (or plain lines in a terminal), trace ids attached, secrets masked.

python-json-logger renders the records; the redacting filter sits on the handler so that no
library's record (httpx logs request URLs) can carry a token or password out.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from gateway.redaction import RedactingFilter

__all__ = ["TraceIdFilter", "configure_logging"]


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` / ``span_id`` of the current span to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> logging.Handler:
    """Replace the root handlers with one that masks secrets and adds trace ids."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    formatter: logging.Formatter
    if json_lines:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    return handler
