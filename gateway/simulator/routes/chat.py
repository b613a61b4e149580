"""``/room/get_chat_message_log``."""

from __future__ import annotations

from ..state import VendorError, VendorState
from ..wire import Answer, Args, EndpointTable, integer, ok, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint(
    "/room/get_chat_message_log",
    text("room_id", True),
    text("fromid"),
    integer("start_time"),
    integer("end_time"),
)
def get_chat_message_log(state: VendorState, args: Args) -> Answer:
    """A room's messages by session, optionally by sender and time; 40004 unknown room."""
    if state.rooms.find(args["room_id"]) is None:
        raise VendorError(40004, "no such room_id")
    sessions = state.chat.sessions(
        args["room_id"], args["fromid"], args["start_time"], args["end_time"]
    )
    return ok(data=sessions)
