"""Running the simulator as a server (``gateway simulator`` and ``python -m gateway.simulator``)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import SimulatorSettings

__all__ = ["serve"]


def serve(settings: SimulatorSettings | None = None) -> None:
    """Serve the simulator on ``settings.host:settings.port`` until interrupted."""
    settings = settings or SimulatorSettings()
    # access_log off: vendor URLs carry the token in the query string, which must not be logged.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
