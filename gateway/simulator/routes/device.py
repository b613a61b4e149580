"""``/device/*``: SIP / H.323 devices invited into rooms."""

from __future__ import annotations

from ..state import VendorState
from ..wire import Answer, Args, EndpointTable, integer, ok, text

__all__ = ["table"]

table = EndpointTable()

_IN_ROOM = (text("room_id", True), text("user_id", True))


@table.endpoint(
    "/device/call",
    text("room_id", True),
    text("uri", True),
    text("name"),
    text("user_id"),
    text("resolution_rate", default="1280*720"),
    integer("frame_rate", default=20),
    integer("video_rate", default=2),
    integer("voice_multiple", default=0),
    text("call_from"),
    text("caller_name"),
    text("device_type"),
)
def call(state: VendorState, args: Args) -> Answer:
    """Invite a device; it joins the room when answered. 40004 unknown room, 40031 user
    already in the room, 40032 bad uri, 40038 / 40039 unsupported video settings."""
    room = state.rooms.get(args["room_id"])
    options = {
        k: args[k]
        for k in (
            "resolution_rate",
            "frame_rate",
            "video_rate",
            "voice_multiple",
            "call_from",
            "caller_name",
            "device_type",
        )
    }
    device_call = state.devices.call(room, args["uri"], args["user_id"], args["name"], **options)
    # "successs" [sic], as the reference prints it.
    return {
        "ret": 0,
        "msg": "successs",
        "call_id": device_call.call_id,
        "user_id": device_call.user_id,
    }


@table.endpoint("/device/kick", *_IN_ROOM)
def kick(state: VendorState, args: Args) -> Answer:
    """Hang up the device; 40004 unknown room, 40033 no invitation for the user id."""
    room = state.rooms.get(args["room_id"])
    device_call = state.devices.hang_up(room, args["user_id"])
    return ok(call_id=device_call.call_id, user_id=device_call.user_id)


def _set_focus(state: VendorState, args: Args, focused: bool) -> Answer:
    room = state.rooms.get(args["room_id"])
    device_call, _ = state.devices.in_room(room, args["user_id"])
    device_call.focused = focused
    return ok()


def _set_streams(state: VendorState, args: Args, kind: str, published: bool) -> Answer:
    room = state.rooms.get(args["room_id"])
    _, participant = state.devices.in_room(room, args["user_id"])
    for stream in participant.videos if kind == "video" else participant.audios:
        stream.status = "published" if published else "init"
    return ok()


@table.endpoint("/device/video/focus", *_IN_ROOM)
def video_focus(state: VendorState, args: Args) -> Answer:
    """Make the device's video the focus; 40033 no invitation, 40008 device not in room."""
    return _set_focus(state, args, True)


@table.endpoint("/device/video/unfocus", *_IN_ROOM)
def video_unfocus(state: VendorState, args: Args) -> Answer:
    """Remove the focus; 40033 no invitation, 40008 device not in room."""
    return _set_focus(state, args, False)


@table.endpoint("/device/video/close", *_IN_ROOM)
def video_close(state: VendorState, args: Args) -> Answer:
    """Turn the device's video off (stream status "init"); 40004 / 40033 / 40008."""
    return _set_streams(state, args, "video", False)


@table.endpoint("/device/video/open", *_IN_ROOM)
def video_open(state: VendorState, args: Args) -> Answer:
    """Turn the device's video on (stream status "published"); 40004 / 40033 / 40008."""
    return _set_streams(state, args, "video", True)


@table.endpoint("/device/audio/mute", *_IN_ROOM)
def audio_mute(state: VendorState, args: Args) -> Answer:
    """Mute the device (audio stream status "init"); 40004 / 40033 / 40008."""
    return _set_streams(state, args, "audio", False)


@table.endpoint("/device/audio/unmute", *_IN_ROOM)
def audio_unmute(state: VendorState, args: Args) -> Answer:
    """Unmute the device (audio stream status "published"); 40004 / 40033 / 40008."""
    return _set_streams(state, args, "audio", True)


@table.endpoint("/device/get_invite_status", text("call_id", True))
def get_invite_status(state: VendorState, args: Args) -> Answer:
    """0 calling, 1 answered, 2 refused, 3 ended; 40037 unknown call id."""
    return ok(invite_status=state.devices.get(args["call_id"]).status)
