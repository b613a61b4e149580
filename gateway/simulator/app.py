"""The simulator's composition root: vendor endpoints, scenario API and the fault layer.

``app.state.vendor_state`` holds the :class:`~gateway.simulator.state.VendorState`,
``app.state.faults`` the :class:`~gateway.simulator.faults.FaultInjector`. The fault
middleware sees every request but touches only vendor paths (never ``/_sim/``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .config import SimulatorSettings
from .faults import FaultInjector, FaultMiddleware
from .routes import vendor_routes
from .scenario_faults import fault_routes
from .scenario_state import SCENARIO_PREFIX, scenario_state_routes
from .state import VendorState
from .wire import FoldDoubleSlash

__all__ = ["create_app"]


async def reset(request: Request) -> JSONResponse:
    """``POST /_sim/reset``: forget all vendor state and reset the fault layer."""
    request.app.state.vendor_state.reset()
    request.app.state.faults.reset()
    return JSONResponse({"reset": True})


def create_app(settings: SimulatorSettings | None = None) -> Starlette:
    """A fresh simulator (own state, own fault injector) for ``settings``."""
    settings = settings or SimulatorSettings()
    injector = FaultInjector(
        settings.faults, log_size=settings.request_log_size, seed=settings.seed
    )
    routes: list[BaseRoute] = [
        *vendor_routes(),
        *scenario_state_routes(),
        Route(f"{SCENARIO_PREFIX}/reset", reset, methods=["POST"]),
        *fault_routes(injector),
    ]
    middleware = [Middleware(FaultMiddleware, injector=injector), Middleware(FoldDoubleSlash)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.vendor_state = VendorState(settings)
    app.state.faults = injector
    app.state.settings = settings
    return app
