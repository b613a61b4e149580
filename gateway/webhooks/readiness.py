"""Readiness: run named checks at once, each bounded in time; report each outcome by name.

An outcome is ``ok`` or ``failed: <ErrorClass>`` / ``timed out``: the class name only, since
an error's message could carry a host name or a vendor message, and readiness bodies are
public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["Check", "run_checks"]

Check = Callable[[], Awaitable[object]]


async def _outcome(check: Check, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except TimeoutError:
        return "timed out"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


async def run_checks(checks: Mapping[str, Check], timeout_s: float) -> tuple[bool, dict[str, str]]:
    """(every check passed, outcome by name)."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_outcome(checks[n], timeout_s) for n in names))
    report = dict(zip(names, outcomes, strict=True))
    return all(o == "ok" for o in outcomes), report
