"""Media servers (``server_id``) and how many users each carries (``/media_server/user_count``).

A server's count is the number of participants in open rooms on it, unless the scenario API
set an explicit count. One default server is registered so the normal answer works.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import VendorError
from .rooms import Room

__all__ = ["MediaServer", "MediaServerStore"]


@dataclass(slots=True)
class MediaServer:
    """A media server; ``user_count`` overrides the count derived from the rooms."""

    server_id: str
    online: bool = True
    user_count: int | None = None


class MediaServerStore:
    """Registered media servers by id."""

    def __init__(self, default_server_id: str) -> None:
        self._servers: dict[str, MediaServer] = {}
        if default_server_id:
            self.register(default_server_id)

    def register(self, server_id: str) -> MediaServer:
        """The server, registered (online) if it was not."""
        server = self._servers.get(server_id)
        if server is None:
            server = self._servers[server_id] = MediaServer(server_id)
        return server

    def set(
        self, server_id: str, *, online: bool | None = None, user_count: Any = ...
    ) -> MediaServer:
        """Change a server; ``user_count=None`` goes back to counting room users."""
        server = self.register(server_id)
        if online is not None:
            server.online = online
        if user_count is not ...:
            server.user_count = user_count
        return server

    def remove(self, server_id: str) -> bool:
        """Forget a server; False when it was unknown."""
        return self._servers.pop(server_id, None) is not None

    def counts(self, rooms: Iterable[Room]) -> list[dict[str, Any]]:
        """``server_user_count`` entries of the online servers; 11003 when none is online."""
        online = [s for s in self._servers.values() if s.online]
        if not online:
            raise VendorError(11003, "have no media server is online")
        derived: dict[str, int] = {}
        for room in rooms:
            if room.is_open:
                derived[room.server_id] = derived.get(room.server_id, 0) + len(room.participants)
        return [
            {
                "server_id": s.server_id,
                "user_count": s.user_count
                if s.user_count is not None
                else derived.get(s.server_id, 0),
            }
            for s in online
        ]

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [
            {"server_id": s.server_id, "online": s.online, "user_count": s.user_count}
            for s in self._servers.values()
        ]
