"""The vendor's 73 endpoints, one module per area."""

from __future__ import annotations

from starlette.routing import Route

from . import (
    app,
    avc,
    chat,
    device,
    live,
    media,
    media_server,
    participants,
    recording,
    room,
    sip,
    transcode,
    upload,
    web_record,
)

__all__ = ["vendor_routes"]

_AREAS = (
    app,
    room,
    participants,
    recording,
    web_record,
    live,
    avc,
    media,
    transcode,
    sip,
    device,
    upload,
    media_server,
    chat,
)


def vendor_routes() -> list[Route]:
    """Every vendor endpoint as a Starlette route."""
    return [route for area in _AREAS for route in area.table.routes]
