"""Keeping vendor secrets out of logs, errors and reprs.

The vendor takes its token as a request parameter (in the query string on GET), and some
endpoints take passwords; these must never reach a log line, a span or an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

__all__ = ["MASK", "SECRET_PARAM_NAMES", "RedactingFilter", "redact_params", "redact_text"]

SECRET_PARAM_NAMES = frozenset(
    {"token", "access_key", "secret_key", "password", "host_password", "licence_cert"}
)
MASK = "***"

# name=value pairs in URLs, form bodies and free text, for any secret-looking parameter name.
# Linear in the text's length: a name starts only where a run of letters starts (the
# lookbehind), so a long run is walked once, not once per position (a 1 MB run of letters in
# a hostile command id took the old pattern minutes, on the event loop).
_PAIR = re.compile(
    r"(?<![A-Za-z_])(?P<name>[A-Za-z_]*(?:token|access_key|secret_key|password|licence_cert))"
    r"=(?P<value>[^&\s\"']*+)",
    re.IGNORECASE,
)


def redact_params(params: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``params`` with every secret value masked."""
    return {
        k: (MASK if k in SECRET_PARAM_NAMES or "password" in k or "secret" in k else v)
        for k, v in params.items()
    }


def redact_text(text: str) -> str:
    """Mask ``name=value`` secrets inside free text such as a URL."""
    return _PAIR.sub(lambda m: f"{m.group('name')}={MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message and arguments.

    httpx logs every request URL at INFO; for the vendor's GET-only endpoints that URL carries
    the token, so the vendor transport installs this filter on the ``httpx`` logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return True


def _redact_arg(arg: object) -> object:
    # Numbers stay numbers so that %d and %f placeholders still format.
    if isinstance(arg, int | float) or arg is None:
        return arg
    return redact_text(str(arg))
