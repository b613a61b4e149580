"""``python -m chaos.taskdump run --role commands``: the gateway's own CLI, plus a SIGUSR1
handler that writes every asyncio task's stack to stderr (the replica's log). The suite starts
replicas this way so that, when results go missing, it can show where the work is waiting.

With ``CHAOS_LOOP_LAG_MS`` set, a watcher also logs every time the event loop wakes a sleeper
more than that many milliseconds late (what compresses rate-limit slots)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from types import FrameType


def _dump(signum: int, frame: FrameType | None) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    out = io.StringIO()
    tasks = asyncio.all_tasks(loop)
    out.write(f"\n===== task dump {time.strftime('%H:%M:%S')}: {len(tasks)} tasks =====\n")
    for task in tasks:
        name = task.get_name()
        if name.startswith("key-runner") or "process" in repr(task.get_coro()):
            pass
        out.write(f"--- {name}\n")
        task.print_stack(limit=40, file=out)
    out.write("===== end of task dump =====\n")
    sys.stderr.write(out.getvalue())
    sys.stderr.flush()


async def _watch_lag(threshold_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        planned = loop.time() + 0.01
        await asyncio.sleep(0.01)
        late = loop.time() - planned
        if late > threshold_s:
            sys.stderr.write(f"{time.time():.3f} event loop lag {late * 1000:.0f} ms\n")


def _install_lag_watch() -> None:
    threshold = os.environ.get("CHAOS_LOOP_LAG_MS")
    if not threshold:
        return
    import uvloop

    original = uvloop.run

    def run(main, **kwargs):  # type: ignore[no-untyped-def]
        async def with_watch():  # type: ignore[no-untyped-def]
            watch = asyncio.create_task(_watch_lag(float(threshold) / 1000))
            try:
                return await main
            finally:
                watch.cancel()

        return original(with_watch(), **kwargs)

    uvloop.run = run


def main() -> None:
    signal.signal(signal.SIGUSR1, _dump)
    _install_lag_watch()
    from gateway.app.cli import main as gateway_main

    sys.argv[0] = "gateway"
    gateway_main()


if __name__ == "__main__":
    main()
