"""Chat messages of rooms (``/room/get_chat_message_log``), grouped into sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatMessage", "ChatStore"]


@dataclass(slots=True)
class ChatMessage:
    """One message; ``session_id`` is the start time of the meeting it was sent in."""

    id: int
    session_id: str
    room_id: str
    from_id: str
    from_name: str
    message: str
    timestamp: int
    dst: str
    dst_name: str = ""
    session_type: int = 0
    message_type: int = 0
    status: int = 0

    def answer(self) -> dict[str, Any]:
        """An entry of ``messages`` (note the response's ``fromId`` vs the request's ``fromid``)."""
        return {
            "fromId": self.from_id,
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "timestamp": self.timestamp,
            "room_id": self.room_id,
            "session_type": self.session_type,
            "message_type": self.message_type,
            "fromName": self.from_name,
            "dst_name": self.dst_name,
            "dst": self.dst,
        }


class ChatStore:
    """All chat messages in the order they were sent."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._messages: list[ChatMessage] = []

    def add(
        self,
        room_id: str,
        session_started: float,
        from_id: str,
        message: str,
        *,
        from_name: str = "",
        dst: str | None = None,
        dst_name: str = "",
        timestamp: int | None = None,
        session_type: int = 0,
        message_type: int = 0,
    ) -> ChatMessage:
        """Log a message (to the whole room unless ``dst`` names a user)."""
        entry = ChatMessage(
            id=len(self._messages) + 1,
            session_id=str(int(session_started)),
            room_id=room_id,
            from_id=from_id,
            from_name=from_name,
            message=message,
            timestamp=int(self._clock()) if timestamp is None else timestamp,
            dst=dst or room_id,
            dst_name=dst_name,
            session_type=session_type,
            message_type=message_type,
        )
        self._messages.append(entry)
        return entry

    def sessions(
        self, room_id: str, from_id: str | None, start: int | None, end: int | None
    ) -> list[dict[str, Any]]:
        """The ``data`` of get_chat_message_log: sessions with their matching messages."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for m in self._messages:
            if (
                m.room_id == room_id
                and (not from_id or m.from_id == from_id)
                and (start is None or m.timestamp >= start)
                and (end is None or m.timestamp <= end)
            ):
                grouped.setdefault(m.session_id, []).append(m.answer())
        return [{"session_id": sid, "messages": msgs} for sid, msgs in grouped.items()]

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [m.answer() | {"session_id": m.session_id} for m in self._messages]
