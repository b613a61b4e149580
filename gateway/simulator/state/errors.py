"""The vendor's refusal, raised by the state and turned into an answer by the wire layer.

The vendor reports every error in the body of an HTTP 200 answer as ``{"ret": code, "msg": text}``;
state methods raise :class:`VendorError` with the code and the text the reference prints for the
situation, and the wire layer decides the envelope (``ret`` or ``code``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["VendorError"]


class VendorError(Exception):
    """A documented vendor error: ``code`` and ``msg`` as the reference prints them.

    ``extra`` holds additional answer fields some errors carry (e.g. ``record_id`` or
    ``failed_record_list`` on ``/room/mix_live/stop``).
    """

    def __init__(self, code: int, msg: str, **extra: Any) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.extra = extra
