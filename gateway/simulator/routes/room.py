"""``/room/*`` room lifecycle: create, update, lock, delete, read, close, statistics, list."""

from __future__ import annotations

from ..state import COUNTERS, VendorError, VendorState
from ..wire import (
    GET_ONLY,
    Answer,
    Args,
    EndpointTable,
    Envelope,
    bad_args,
    boolean,
    integer,
    ok,
    ok_code,
    text,
)

__all__ = ["table"]

table = EndpointTable()

TOPIC_MAX = 150


def _topic(topic: str | None) -> str | None:
    if topic is not None and len(topic) > TOPIC_MAX:
        raise bad_args()
    return topic


@table.endpoint(
    "/room/create",
    text("topic", True),
    text("user_id"),
    text("room_id"),
    boolean("enable_auto_cloud_recording", default=False),
    boolean("enable_auto_avc", default=False),
    text("resolution", default="1280*720"),
    text("attendee_max"),
    boolean("close_room_with_owner_leave", default=False),
)
def create(state: VendorState, args: Args) -> Answer:
    """Create a (closed) room; 40005 when the given room_id exists."""
    room = state.rooms.create(
        args["room_id"] or None,
        _topic(args["topic"]) or "",
        owner_id=args["user_id"] or "",
        enable_auto_cloud_recording=args["enable_auto_cloud_recording"],
        enable_auto_avc=args["enable_auto_avc"],
        resolution=args["resolution"],
        attendee_max=args["attendee_max"] or "",
        close_room_with_owner_leave=args["close_room_with_owner_leave"],
    )
    return ok(room_id=room.room_id)


@table.endpoint(
    "/room/update",
    text("room_id", True),
    text("topic"),
    boolean("enable_auto_cloud_recording"),
    text("user_id"),
    boolean("enable_auto_avc"),
    text("host_id"),
    text("password"),
    text("host_password"),
)
def update(state: VendorState, args: Args) -> Answer:
    """Change the given settings; 40004 for an unknown room."""
    room = state.rooms.get(args["room_id"])
    changes = {
        "topic": _topic(args["topic"]),
        "enable_auto_cloud_recording": args["enable_auto_cloud_recording"],
        "owner_id": args["user_id"],
        "enable_auto_avc": args["enable_auto_avc"],
        "host_id": args["host_id"],
        "password": args["password"],
        "host_password": args["host_password"],
    }
    for name, value in changes.items():
        if value is not None:
            setattr(room, name, value)
    return ok()


@table.endpoint(
    "/room/room_lock",
    text("room_id", True),
    boolean("enable_lock", default=True),
    methods=GET_ONLY,
)
def room_lock(state: VendorState, args: Args) -> Answer:
    """Lock (enable_lock=true, the default) or unlock a room; 40004 for an unknown room."""
    state.rooms.get(args["room_id"]).locked = args["enable_lock"]
    return ok()


@table.endpoint("/room/del", text("room_id", True))
def delete(state: VendorState, args: Args) -> Answer:
    """Delete a room (closing its meeting); 40004 for an unknown room."""
    state.delete_room(args["room_id"])
    return ok()


@table.endpoint("/room/read", text("room_id", True))
def read(state: VendorState, args: Args) -> Answer:
    """A room's settings under ``data``; 40004 ("no such room") for an unknown room."""
    room = state.rooms.get(args["room_id"], "no such room")
    return ok(data=room.read_answer())


@table.endpoint("/room/close", text("room_id", True), envelope=Envelope.CODE)
def close(state: VendorState, args: Args) -> Answer:
    """End a meeting (``code`` envelope); 41005 when the room is unknown or not open."""
    room = state.rooms.find(args["room_id"])
    if room is None or not room.is_open:
        raise VendorError(41005, "Internal server error:room not found or opened")
    state.close_room(room)
    return ok_code()


@table.endpoint(
    "/room/get_statistic",
    integer("start_time", True),
    integer("end_time", True),
    text("room_id"),
)
def get_statistic(state: VendorState, args: Args) -> Answer:
    """Counters over ``[start_time, end_time]``; as the reference shows, without ret/msg."""
    room_id = args["room_id"] or None
    if args["start_time"] > args["end_time"]:
        raise bad_args()
    if room_id and state.rooms.find(room_id) is None and not state.statistics.knows_room(room_id):
        raise VendorError(40004, "no such room_id")
    totals = state.statistics.totals(args["start_time"], args["end_time"], room_id)
    return {name: totals[name] for name in COUNTERS}


@table.endpoint("/room/list")
def list_rooms(state: VendorState, args: Args) -> Answer:
    """The open rooms with their users and media server."""
    rooms = state.rooms.open_rooms()
    return {
        "msg": "success",
        "ret": 0,
        "room_count": len(rooms),
        "rooms": [room.list_answer() for room in rooms],
        "user_count": sum(len(room.participants) for room in rooms),
    }
