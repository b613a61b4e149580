"""A tiny HTTP/1.1 file server for FileUpload source_url tests, on a loopback port.

Raw asyncio (no framework), so it serves big files from one constant chunk without holding
them, and it can misbehave on purpose. Paths:

- ``/file/<bytes>``: 200 with that many bytes (``?delay=<s>`` waits before the body,
  ``?nolength=1`` sends no Content-Length and closes at the end);
- ``/status/<code>``: that status, empty body;
- ``/redirect``: 302 to ``/file/10`` on the same server;
- ``/drip/<bytes>?every=<s>``: 200 with Content-Length, then one byte every ``every`` seconds;
- ``/gzip``: 200 with ``Content-Encoding: gzip`` and a gzip body.

Every request is recorded (method, target, headers), and so is the largest number served at
once. ``python -m tests.source_server`` runs one in a process of its own and prints its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import sys
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

__all__ = ["SeenRequest", "SourceServer"]

_CHUNK = b"\x00" * (1024 * 1024)


@dataclass
class SeenRequest:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]


@dataclass
class SourceServer:
    """Serve on 127.0.0.1 (a free port) while started."""

    requests: list[SeenRequest] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The server's root, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> SourceServer:
        """Listen; returns self."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> SourceServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            self.requests.append(SeenRequest(method, target, headers))
            await self._answer(target, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, target: str, writer: asyncio.StreamWriter) -> None:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")

        def head(status: str, *extra: str) -> None:
            lines = [f"HTTP/1.1 {status}", "Connection: close", *extra, "", ""]
            writer.write("\r\n".join(lines).encode("latin-1"))

        if segments[0] == "file":
            size = int(segments[1])
            length = [] if query.get("nolength") else [f"Content-Length: {size}"]
            head("200 OK", "Content-Type: application/octet-stream", *length)
            await writer.drain()
            await asyncio.sleep(float(query.get("delay", 0)))
            left = size
            while left > 0:
                piece = _CHUNK[: min(left, len(_CHUNK))]
                writer.write(piece)
                await writer.drain()
                left -= len(piece)
        elif segments[0] == "status":
            head(f"{int(segments[1])} Whatever", "Content-Length: 0")
        elif segments[0] == "redirect":
            head(
                "302 Found", f"Location: http://127.0.0.1:{self.port}/file/10", "Content-Length: 0"
            )
        elif segments[0] == "drip":
            size = int(segments[1])
            head("200 OK", f"Content-Length: {size}")
            for _ in range(size):
                await writer.drain()
                await asyncio.sleep(float(query.get("every", 0.1)))
                writer.write(b"x")
        elif segments[0] == "gzip":
            body = gzip.compress(b"\x00" * 100_000)
            head("200 OK", "Content-Encoding: gzip", f"Content-Length: {len(body)}")
            writer.write(body)
        else:
            head("404 Not Found", "Content-Length: 0")
        await writer.drain()


async def _main() -> None:
    server = await SourceServer().start()
    print(server.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        sys.exit(0)
