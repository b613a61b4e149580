"""Gateway processes for the cases: `python -m gateway run --role ...` with GATEWAY_* variables,
SIGKILL and restart (the pattern of tests/integration/test_pipeline_crash.py), and a
supervisor that restarts a replica that died on its own, as Kubernetes would, and counts it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Replica", "Supervisor", "free_port", "stop_process", "tail"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace_s``: a helper process of a
    case (the simulator, a Redis, the fault proxy), never one of the replicas (see Replica)."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace_s)


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file (empty if there is none)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Replica:
    """One gateway process (one role), restartable under the same name and settings."""

    name: str
    role: str
    env: Mapping[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    unexpected_exits: list[int] = field(default_factory=list)
    started_at: float = 0.0
    ops_port: int = 0  # the operations endpoint (/metrics) of the current process

    def start(self) -> None:
        """Start the process (its output is appended to ``log``)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.ops_port = free_port()
        env = {
            **os.environ,
            **self.env,
            "GATEWAY_OPS__PORT": str(self.ops_port),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts + 1} of {self.name} =====\n".encode())
            out.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                # `gateway run` itself, with a SIGUSR1 task dump (chaos/taskdump.py)
                [sys.executable, "-m", "chaos.taskdump", "run", "--role", self.role],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        self.started_at = time.time()

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.kills += 1

    def dump_tasks(self) -> None:
        """Ask the process to write its asyncio tasks' stacks to its log."""
        if self.alive and self.process is not None:
            self.process.send_signal(signal.SIGUSR1)

    def stop(self, grace: float = 40.0) -> int | None:
        """SIGTERM, wait ``grace`` seconds, then SIGKILL; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                # Where it hangs, into its log (chaos/taskdump.py), before it goes.
                self.process.send_signal(signal.SIGUSR1)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(2)
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(30)
        return self.process.returncode


class Supervisor:
    """Restarts replicas that exit without being told to (bounded), like a pod's restart policy;
    every such exit is recorded, with the end of the replica's log, for the audit's notes."""

    def __init__(self, replicas: list[Replica], *, max_restarts: int = 20) -> None:
        self.replicas = replicas
        self.max_restarts = max_restarts
        self.events: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._paused: set[str] = set()

    async def __aenter__(self) -> Supervisor:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def paused(self, replica: Replica):  # type: ignore[no-untyped-def]
        """While the caller kills and restarts ``replica`` itself."""
        self._paused.add(replica.name)
        try:
            yield
        finally:
            self._paused.discard(replica.name)

    async def _watch(self) -> None:
        restarts = 0
        while True:
            await asyncio.sleep(0.5)
            for replica in self.replicas:
                if replica.name in self._paused or replica.process is None or replica.alive:
                    continue
                code = replica.process.returncode
                replica.unexpected_exits.append(code)
                last = " | ".join(
                    line.strip()
                    for line in tail(replica.log, 1500).splitlines()[-4:]
                    if line.strip()
                )
                self.events.append(f"{replica.name} exited by itself (code {code}): {last[-600:]}")
                if restarts >= self.max_restarts:
                    replica.process = None  # given up on: reported once, not restarted
                    continue
                restarts += 1
                replica.start()
