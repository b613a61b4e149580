"""``python -m chaos.taskdump run --role commands``: the gateway's own CLI, plus a SIGUSR1
handler that writes every asyncio task's stack to stderr (the replica's log). The suite starts
replicas this way so that, when results go missing, it can show where the work is waiting."""

from __future__ import annotations

import asyncio
import io
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


def main() -> None:
    signal.signal(signal.SIGUSR1, _dump)
    from gateway.app.cli import main as gateway_main

    sys.argv[0] = "gateway"
    gateway_main()


if __name__ == "__main__":
    main()
