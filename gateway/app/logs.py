"""Logging setup at the edge: one line per record, secrets masked wherever they come from."""

from __future__ import annotations

import logging
import sys

from gateway.vendor.redaction import RedactingFilter

__all__ = ["configure_logging"]


def configure_logging(level: str = "INFO") -> None:
    """Plain structured-ish lines on stderr; the redacting filter sits on the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
