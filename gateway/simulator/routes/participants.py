"""``/room/participate/*``: both answer with ``code`` (200 on success) instead of ``ret``."""

from __future__ import annotations

from ..state import VendorError, VendorState
from ..wire import Answer, Args, EndpointTable, Envelope, ok_code, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint(
    "/room/participate/kick", text("room_id", True), text("user_id", True), envelope=Envelope.CODE
)
def kick(state: VendorState, args: Args) -> Answer:
    """Remove a user; 40004 unknown room, 40009 room not open, 40008 user not in it."""
    room = state.rooms.get(args["room_id"])
    if not room.is_open:
        raise VendorError(40009, "room not open or not exist")
    state.remove_participant(room, args["user_id"])
    return ok_code()


@table.endpoint("/room/participate/list", text("room_id", True), envelope=Envelope.CODE)
def list_participants(state: VendorState, args: Args) -> Answer:
    """The users of a room with their video and audio streams; 41005 for an unknown room."""
    room = state.rooms.find(args["room_id"])
    if room is None:
        raise VendorError(41005, "Internal server error:room not found")
    return ok_code(participates=[p.answer() for p in room.participants.values()])
