"""The vendor simulator: the vendor's HTTP API as its reference describes it, in memory.

It imports nothing from the rest of the gateway, so a serialisation mistake on one side
cannot hide in shared code.
"""

from __future__ import annotations

from .app import create_app
from .config import SimulatorSettings
from .server import serve

__all__ = ["SimulatorSettings", "create_app", "serve"]
