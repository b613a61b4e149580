"""Logging: JSON lines (or plain lines in a terminal), trace ids attached, secrets masked.

python-json-logger renders the records; the redacting filters sit on the handler so that no
library's record (httpx logs request URLs) can carry a token or password out. Secrets are
masked twice: in the record (message, arguments, ``extra`` fields and the exception and stack
text, by key name and in text), and in the rendered line (``name=value``, JSON and dict forms
``"password": "..."``, passwords in URLs ``redis://:pw@host``, ``Bearer`` credentials), which
also catches what a formatter renders itself (python-json-logger formats ``exc_info`` anew).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from gateway.redaction import MASK, SECRET_PARAM_NAMES, RedactingFilter, redact_text

__all__ = [
    "RedactingFormatter",
    "SecretFieldsFilter",
    "TraceIdFilter",
    "configure_logging",
    "redact_log_text",
]

# Names of secrets (not a secret).
_SECRET_WORDS = r"token|access_key|secret|password|passwd|licence_cert|api_key|authorization"  # noqa: S105
# A key under which a value is a secret (an extra field, a dict key, a JSON member).
_SECRET_KEY = re.compile(rf"(?:{_SECRET_WORDS})", re.IGNORECASE)
# "password": "x", 'token': 'x', \"secret_key\": \"x\" (JSON inside a JSON line), "token": 12.
# Every pattern here is linear in the text's length (a sender controls much of what is logged):
# the key's run is scanned once (a lookahead for the secret word, then a possessive run), runs
# start only where a run starts (lookbehinds), and no repetition can be re-tried by backtracking.
_QUOTED_PAIR = re.compile(
    rf"""(?P<key>(?P<q>\\?["'])(?=[\w.-]*?(?:{_SECRET_WORDS}))[\w.-]*+(?P=q)\s*+[:=]\s*+)"""
    rf"""(?:(?P<vq>\\?["'])(?:\\.|(?!(?P=vq)).)*?(?P=vq)|[^\s,;}}\]\\"']++)""",
    re.IGNORECASE,
)
# The password of a URL's user info: redis://:pw@host, amqp://user:pw@host.
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://[^\s:/@'\"]*+:)[^\s@/'\"]++@", re.I
)
_BEARER = re.compile(r"\b(?P<scheme>bearer|basic)\s++[A-Za-z0-9._~+/=-]{6,}+", re.IGNORECASE)
# Longer strings are clipped before they are logged: a log line is for a person, and a
# sender's megabyte (a command id, a payload) must not become a megabyte per log line.
MAX_LOGGED_CHARS = 2_000
# LogRecord's own attributes: everything else on a record came in through `extra`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact_log_text(text: str) -> str:
    """Mask every form of secret this module knows in a piece of log text."""
    text = redact_text(text)
    text = _QUOTED_PAIR.sub(
        lambda m: f"{m.group('key')}{m.group('vq') or ''}{MASK}{m.group('vq') or ''}", text
    )
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and (key in SECRET_PARAM_NAMES or bool(_SECRET_KEY.search(key)))


def _redact_value(value: Any, depth: int = 0) -> Any:
    """``value`` with secrets masked: under secret keys at any depth (within reason), and in
    strings."""
    if depth > 20:
        return MASK
    if isinstance(value, str):
        return redact_log_text(_clip(value))
    if isinstance(value, Mapping):
        return {
            k: MASK if _is_secret_key(k) else _redact_value(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(_redact_value(v, depth + 1) for v in value)
    if isinstance(value, list | set | frozenset):
        return [_redact_value(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return redact_log_text(_clip(value[: MAX_LOGGED_CHARS * 4].decode("utf-8", "replace")))
    return value


def _clip(text: str) -> str:
    if len(text) <= MAX_LOGGED_CHARS:
        return text
    return f"{text[:MAX_LOGGED_CHARS]}…(+{len(text) - MAX_LOGGED_CHARS} chars)"


class SecretFieldsFilter(logging.Filter):
    """Masks secrets in what the message filter does not see: ``extra`` fields (by key, and in
    their values), mappings given as arguments, and the exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in list(vars(record).items()):
            if name in _RECORD_FIELDS:
                continue
            setattr(record, name, MASK if _is_secret_key(name) else _redact_value(value))
        if isinstance(record.args, Mapping):
            record.args = {k: MASK if _is_secret_key(k) else v for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(
                _redact_value(a) if isinstance(a, Mapping | list) else a for a in record.args
            )
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter and masks secrets in the lines it renders."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_log_text(self._inner.format(record))


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
    handler.setFormatter(RedactingFormatter(formatter))
    handler.addFilter(RedactingFilter())
    handler.addFilter(SecretFieldsFilter())
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    return handler
