"""The vendor simulator for a case: its own process (like ``bench.harness.simulator``), the
vendor-side rate limit, faults through the scenario API, and reading back its request log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from chaos.procs import free_port, stop_process

__all__ = ["RATE_LIMIT", "Sim", "executed", "sim_process"]

RATE_LIMIT = {"enabled": True, "rate_per_s": 100.0, "burst": 10, "tolerance_ms": 50.0}
"""The vendor-side limit every case runs under; the gateway is configured with the same
rate and burst (and keeps its default 2 % safety margin and one slot of burst headroom).

``tolerance_ms`` 50: the simulator stamps a request's arrival when its own event loop gets
to it. On two cores shared with Kafka, Redis, two gateways and the suite, a descheduled
simulator stamps several requests at once that were sent apart; 50 ms absorbs that
scheduling noise (it is not slack for the gateway: at 100/s it is five slots)."""


SIM_NICE = -10
"""The simulator runs at a higher CPU priority than everything else of the suite (when the
user may raise priorities, e.g. root): it stands in for a remote vendor, whose arrival clock
does not stall when this machine's two cores are busy starting a replica."""


def _raise_priority(pid: int) -> None:
    with contextlib.suppress(OSError):  # not permitted: it runs at normal priority
        os.setpriority(os.PRIO_PROCESS, pid, SIM_NICE)


@contextmanager
def sim_process(latency_ms: float = 5.0, log: Path | None = None) -> Iterator[str]:
    """The simulator in a process of its own (as ``bench.harness.simulator``) with the suite's
    rate limit and a large request log; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_SIMULATOR_FAULTS__LATENCY__FIXED_MS": str(latency_ms),
        "GATEWAY_SIMULATOR_REQUEST_LOG_SIZE": "500000",
        **{
            f"GATEWAY_SIMULATOR_FAULTS__RATE_LIMIT__{k.upper()}": str(v)
            for k, v in RATE_LIMIT.items()
        },
    }
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "simulator", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    _raise_priority(proc.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):  # up to ~20 s
            try:
                httpx.get(f"{url}/_sim/calls", timeout=0.5).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"the simulator exited ({proc.returncode})") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("the simulator did not answer within 20 s")
        yield url
    finally:
        stop_process(proc)
        if log is not None and hasattr(out, "close"):
            out.close()


def executed(entry: dict[str, Any]) -> bool:
    """Whether a logged request reached the vendor's real endpoint (a mutation that happened,
    or was refused by the vendor's own state check): not answered by an injected outage, 5xx,
    timeout or error, and the body was read (the client had not gone)."""
    return entry.get("fault") in (None, "latency") and entry.get("ret") is not None


class Sim:
    """Scenario API client."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=60)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def patch_faults(self, patch: dict[str, Any]) -> None:
        """Merge ``patch`` into the fault config (the rate limit stays as it is)."""
        (await self.http.patch("/_sim/faults", json=patch)).raise_for_status()

    async def outage(self, seconds: float) -> None:
        (
            await self.http.post("/_sim/faults/outage", json={"duration_s": seconds})
        ).raise_for_status()

    async def violations(self) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.http.get("/_sim/violations")).json()
        return answer

    async def calls(self) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.http.get("/_sim/calls")).json()
        return answer

    async def last_seq(self) -> int:
        return int((await self.http.get("/_sim/requests", params={"limit": 0})).json()["last_seq"])

    async def requests(self, path: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Every logged vendor request after ``since`` (to ``path`` if given), oldest first."""
        out: list[dict[str, Any]] = []
        for _ in range(10_000):  # bounded paging
            params: dict[str, Any] = {"since": since, "limit": 20000}
            if path:
                params["path"] = path
            page = (await self.http.get("/_sim/requests", params=params)).json()
            out.extend(page["entries"])
            if not page["more"] or not page["entries"]:
                return out
            since = page["entries"][-1]["seq"]
        return out

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.http.post(path, json=body or {})
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    async def delete(self, path: str) -> None:
        (await self.http.delete(path)).raise_for_status()
