"""A minimal keep-alive HTTP/1.1 load client on asyncio streams (loopback only).

An HTTP client library costs more CPU per request than the servers measured here (httpx
several times more than the simulator's own handling), so a load generator built on it would
measure itself. This one writes pre-built request bytes and reads the status line, headers and
a ``content-length`` body; nothing else (no chunked bodies, no redirects, no TLS). The same
approach as ``bench/webhook_ingress.py``'s client, made generic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

__all__ = ["Load", "build_request", "drive", "read_response"]


def build_request(
    port: int,
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    content_type: str = "application/x-www-form-urlencoded",
    headers: dict[str, str] | None = None,
) -> bytes:
    """One complete HTTP/1.1 request to 127.0.0.1:port, ready to write on a keep-alive socket."""
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines += [f"content-type: {content_type}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one response off a keep-alive connection: (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


@dataclass
class Load:
    """What one ``drive`` measured."""

    requests: int = 0
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def drive(
    port: int, requests: list[bytes], connections: int, *, duration_s: float | None = None
) -> Load:
    """Send ``requests`` over ``connections`` keep-alive connections, one at a time on each.

    With ``duration_s`` the list is cycled until that much time has passed (bounded: at most
    ``duration_s`` seconds plus one request per connection); without it every request is sent
    once.
    """
    load = Load()
    next_index = 0
    deadline = None if duration_s is None else time.perf_counter() + duration_s

    def take() -> bytes | None:
        nonlocal next_index
        if deadline is None:
            if next_index >= len(requests):
                return None
        elif time.perf_counter() >= deadline:
            return None
        request = requests[next_index % len(requests)]
        next_index += 1
        return request

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (request := take()) is not None:
                t0 = time.perf_counter()
                writer.write(request)
                status, _ = await read_response(reader)
                load.latencies_ms.append((time.perf_counter() - t0) * 1000)
                load.statuses[status] = load.statuses.get(status, 0) + 1
                load.requests += 1
        finally:
            writer.close()
            await writer.wait_closed()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    load.seconds = time.perf_counter() - started
    load.client_cpu_s = time.process_time() - cpu
    return load
