"""``gateway run --role commands --workers N``: N commands processes in one pod or host.

One Python process runs its event loop on one core; a second core is used by a second process,
not by threads (the GIL). Each worker is a full ``gateway run --role commands`` of its own, a
member of the same consumer group (Kafka spreads the partitions over them), with its own
transactional id and idempotency owner (``GATEWAY_INSTANCE_ID`` plus ``-<i>``: stable, so a
restarted worker fences its own zombie) and its own operations endpoint (``GATEWAY_OPS__PORT``
plus ``i``). They share the idempotency store: one SQLite file (SQLite's locking serialises
their group commits) or Redis.

This process only supervises: SIGTERM and SIGINT are passed on to every worker, and when a
worker ends by itself the others are stopped too and its exit code is returned, so the pod
restarts whole rather than running short of a worker unnoticed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from gateway.settings import GatewaySettings

__all__ = ["run_workers", "worker_env"]

_STOP_WAIT_S = 60.0  # each worker's own grace period is shorter (settings.commands.grace_period_s)


def worker_env(settings: GatewaySettings, index: int) -> dict[str, str]:
    """The environment of worker ``index``: its own instance id and operations port."""
    return {
        **os.environ,
        "GATEWAY_INSTANCE_ID": f"{settings.instance_id}-{index}",
        "GATEWAY_OPS__PORT": str(settings.ops.port + index),
    }


def run_workers(settings: GatewaySettings, count: int) -> int:
    """Run ``count`` commands workers until SIGTERM or until one ends; returns the exit code."""
    command = [sys.executable, "-m", "gateway", "run", "--role", "commands"]
    workers = [
        subprocess.Popen(command, env=worker_env(settings, i))  # noqa: S603 - our own module
        for i in range(count)
    ]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    stop_began: float | None = None
    while any(w.poll() is None for w in workers):
        ended = [w for w in workers if w.poll() is not None]
        if ended and not stopping:
            code = ended[0].returncode or 1  # a worker ended by itself: stop the rest
            stop(signal.SIGTERM, None)
        if stopping:
            stop_began = stop_began or time.monotonic()
            if time.monotonic() - stop_began > _STOP_WAIT_S:
                for worker in workers:
                    if worker.poll() is None:
                        worker.kill()
        time.sleep(0.2)
    codes = [w.returncode for w in workers]
    return code or next((1 if c < 0 else c for c in codes if c != 0), 0)
