"""The ``/_sim`` scenario API of the fault layer: faults, outages, request log, violations.

``fault_routes(injector)`` returns routes whose paths already include ``/_sim/``: concatenate
them into the app's route list (do not ``Mount`` them under ``/_sim``). Every answer is JSON.

=======  =======================  =========================================================
method   path                     body / answer
=======  =======================  =========================================================
GET      /_sim/faults             the FaultConfig in force
PUT      /_sim/faults             body: a FaultConfig (JSON); replaces it; answers it.
                                  422 ``{"detail": [pydantic errors]}`` when invalid
PATCH    /_sim/faults             body: an RFC 7396 JSON Merge Patch of the FaultConfig
                                  (objects merge, ``null`` removes a key); answers the result
DELETE   /_sim/faults             no faults and no outage; the rate limit stays; answers config
POST     /_sim/faults/reset       back to the start config; clears log, counts, violations
GET      /_sim/faults/outage      ``{"active": bool, "remaining_s": float}``
POST     /_sim/faults/outage      body ``{"duration_s": 60}``; starts (or replaces) an outage
DELETE   /_sim/faults/outage      ends the outage
GET      /_sim/requests           ``?since=<seq>&path=<vendor path>&limit=<n>`` (default 1000)
                                  -> ``{"entries": [...], "last_seq": n, "more": bool}``;
                                  entries with ``seq > since``, oldest first
DELETE   /_sim/requests           clears the log and counts -> ``{"cleared": n, "last_seq": n}``
GET      /_sim/calls              ``{"total": n, "calls": {path: n},
                                  "rets": {path: {"<ret>" or "null": n}}}``
GET      /_sim/violations         ``{"count", "checked", "rate_limit", "bucket_ms",
                                  "timeline": [{"mono", "ts", "arrivals", "over_limit"}],
                                  "per_path": {path: {"count", "checked", "rate_limit",
                                  "bucket_ms", "timeline"}}}``: the account's limit, and
                                  each path of ``rate_limit.per_path`` on its own
DELETE   /_sim/violations         clears violations, timelines and GCRA states; answers as GET
=======  =======================  =========================================================
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.simulator.config import FaultConfig
from gateway.simulator.faults import FaultInjector

__all__ = ["DEFAULT_REQUESTS_LIMIT", "OutageRequest", "fault_routes", "merge_patch"]

DEFAULT_REQUESTS_LIMIT = 1000
"""Entries ``GET /_sim/requests`` returns when no ``limit`` is given."""


class OutageRequest(BaseModel):
    """Body of ``POST /_sim/faults/outage``."""

    model_config = ConfigDict(extra="forbid")

    duration_s: float = Field(gt=0, allow_inf_nan=False)


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON Merge Patch: objects merge recursively, ``null`` deletes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _invalid(exc: ValidationError) -> JSONResponse:
    # Via exc.json(): the errors' ctx may hold exceptions that plain json cannot encode.
    return JSONResponse({"detail": json.loads(exc.json(include_url=False))}, status_code=422)


def _not_json(exc: ValueError) -> JSONResponse:
    detail = [{"type": "json_invalid", "loc": ["body"], "msg": f"Invalid JSON: {exc}"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _query_int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw)  # ValueError is answered 422 by the caller
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def fault_routes(injector: FaultInjector) -> list[BaseRoute]:
    """The ``/_sim/...`` routes controlling ``injector`` (see the module docstring)."""

    def config_answer() -> JSONResponse:
        return JSONResponse(injector.config.model_dump(mode="json"))

    def outage_answer() -> JSONResponse:
        remaining = injector.outage_remaining()
        return JSONResponse({"active": remaining > 0, "remaining_s": remaining})

    async def get_faults(request: Request) -> JSONResponse:
        return config_answer()

    async def put_faults(request: Request) -> JSONResponse:
        try:
            config = FaultConfig.model_validate_json(await request.body())
        except ValidationError as exc:
            return _invalid(exc)
        injector.config = config
        return config_answer()

    async def patch_faults(request: Request) -> JSONResponse:
        try:
            patch = json.loads(await request.body())
        except ValueError as exc:
            return _not_json(exc)
        merged = merge_patch(injector.config.model_dump(mode="json"), patch)
        try:
            config = FaultConfig.model_validate(merged)
        except ValidationError as exc:
            return _invalid(exc)
        injector.config = config
        return config_answer()

    async def delete_faults(request: Request) -> JSONResponse:
        injector.clear_faults()
        return config_answer()

    async def reset_faults(request: Request) -> JSONResponse:
        injector.reset()
        return config_answer()

    async def get_outage(request: Request) -> JSONResponse:
        return outage_answer()

    async def start_outage(request: Request) -> JSONResponse:
        try:
            outage = OutageRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _invalid(exc)
        injector.start_outage(outage.duration_s)
        return outage_answer()

    async def end_outage(request: Request) -> JSONResponse:
        injector.end_outage()
        return outage_answer()

    async def get_requests(request: Request) -> JSONResponse:
        try:
            since = _query_int(request, "since", 0) or 0
            limit = _query_int(request, "limit", DEFAULT_REQUESTS_LIMIT)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        path = request.query_params.get("path") or None
        # One more than asked tells whether there is more to page through.
        wanted = None if limit is None else limit + 1
        entries = injector.log.entries(since=since, path=path, limit=wanted)
        more = limit is not None and len(entries) > limit
        return JSONResponse(
            {
                "entries": [e.to_dict() for e in entries[:limit]],
                "last_seq": injector.log.last_seq,
                "more": more,
            }
        )

    async def delete_requests(request: Request) -> JSONResponse:
        cleared = len(injector.log)
        injector.log.clear()
        return JSONResponse({"cleared": cleared, "last_seq": injector.log.last_seq})

    async def get_calls(request: Request) -> JSONResponse:
        calls = injector.log.calls()
        rets = {
            path: {"null" if ret is None else str(ret): n for ret, n in by_ret.items()}
            for path, by_ret in injector.log.rets().items()
        }
        return JSONResponse({"total": sum(calls.values()), "calls": calls, "rets": rets})

    async def get_violations(request: Request) -> JSONResponse:
        return JSONResponse(injector.rate_limit.snapshot())

    async def delete_violations(request: Request) -> JSONResponse:
        injector.rate_limit.reset()
        return JSONResponse(injector.rate_limit.snapshot())

    return [
        Route("/_sim/faults", get_faults, methods=["GET"]),
        Route("/_sim/faults", put_faults, methods=["PUT"]),
        Route("/_sim/faults", patch_faults, methods=["PATCH"]),
        Route("/_sim/faults", delete_faults, methods=["DELETE"]),
        Route("/_sim/faults/reset", reset_faults, methods=["POST"]),
        Route("/_sim/faults/outage", get_outage, methods=["GET"]),
        Route("/_sim/faults/outage", start_outage, methods=["POST"]),
        Route("/_sim/faults/outage", end_outage, methods=["DELETE"]),
        Route("/_sim/requests", get_requests, methods=["GET"]),
        Route("/_sim/requests", delete_requests, methods=["DELETE"]),
        Route("/_sim/calls", get_calls, methods=["GET"]),
        Route("/_sim/violations", get_violations, methods=["GET"]),
        Route("/_sim/violations", delete_violations, methods=["DELETE"]),
    ]
