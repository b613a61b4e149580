"""``/room/avc/*``: the server-side composite video of a room."""

from __future__ import annotations

from ..state import VendorError, VendorState
from ..state.avc import LAYOUT_MODES, parse_resolution
from ..state.rooms import Room
from ..wire import (
    Answer,
    Args,
    EndpointTable,
    bad_args,
    boolean,
    choice,
    integer,
    json_text,
    ok,
    text,
)

__all__ = ["table"]

table = EndpointTable()

NO_SUCH_ROOM = "no such room id"


def _has_video(room: Room, resource_id: str) -> bool:
    return any(v.id == resource_id for p in room.participants.values() for v in p.videos)


@table.endpoint(
    "/room/avc/start",
    text("room_id", True),
    # Marked required in the reference although it has a default: treated as optional.
    boolean("enable_manual_avc", default=False),
    integer("max_video_number", True),
    integer("layout_mode", True),
    text("video_name"),
    integer("video_framerate", default=15),
    integer("video_bitrate", default=1000),
    text("video_resolution", default="1280*720"),
)
def start(state: VendorState, args: Args) -> Answer:
    """Switch AVC on; 40004 unknown room, 40050 already on."""
    state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    if args["max_video_number"] < 1:
        raise bad_args()
    state.avc.start(
        args["room_id"],
        manual=args["enable_manual_avc"],
        max_video_number=args["max_video_number"],
        layout_mode=args["layout_mode"],
        video_name=args["video_name"] or "",
        framerate=args["video_framerate"],
        bitrate=args["video_bitrate"],
        resolution=args["video_resolution"],
    )
    return ok()


@table.endpoint("/room/avc/stop", text("room_id", True))
def stop(state: VendorState, args: Args) -> Answer:
    """Switch AVC off; 40004 unknown room, 40051 not on."""
    state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    state.avc.stop(args["room_id"])
    return ok()


@table.endpoint(
    "/room/avc/update_layout",
    text("room_id", True),
    text("main_video_resource_id"),
    text("main_video_name"),
    integer("layout_mode"),
    text("video_name"),
    # Printed defaults 15 / 1500 / 1280*720; an absent value keeps the current setting.
    integer("video_framerate"),
    integer("video_bitrate"),
    text("video_resolution"),
)
def update_layout(state: VendorState, args: Args) -> Answer:
    """Change layout, main video and encoding; 40051 AVC off, 40045 unknown main video."""
    room = state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    setting = state.avc.get(args["room_id"])
    choice(args["layout_mode"], LAYOUT_MODES)
    main_id = args["main_video_resource_id"]
    if main_id and not _has_video(room, main_id):
        raise VendorError(40045, "internal server error")
    if args["video_resolution"]:
        setting.width, setting.height = parse_resolution(args["video_resolution"])
    for name, attr in (
        ("layout_mode", "layout_mode"),
        ("video_name", "video_name"),
        ("video_framerate", "framerate"),
        ("video_bitrate", "bitrate"),
        ("main_video_resource_id", "main_video_resource_id"),
        ("main_video_name", "main_video_name"),
    ):
        if args[name] is not None:
            setattr(setting, attr, args[name])
    return ok()


@table.endpoint("/room/avc/select_media", text("room_id", True), json_text("videos", True))
def select_media(state: VendorState, args: Args) -> Answer:
    """Place videos (video_name, zorder, x, y, w, h) on the canvas; 40051 AVC off."""
    state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    if not isinstance(args["videos"], list):
        raise bad_args()
    state.avc.select_media(args["room_id"], args["videos"])
    return ok()


@table.endpoint("/room/avc/set_focus_video", text("room_id", True), text("resource_id", True))
def set_focus_video(state: VendorState, args: Args) -> Answer:
    """Focus one video stream; 40051 AVC off, 40045 no such stream in the room."""
    room = state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    setting = state.avc.get(args["room_id"])
    if not _has_video(room, args["resource_id"]):
        raise VendorError(40045, "internal server error")
    setting.focus_resource_id = args["resource_id"]
    return ok()


@table.endpoint("/room/avc/get_avc_setting", text("room_id", True))
def get_avc_setting(state: VendorState, args: Args) -> Answer:
    """The AVC parameters and placed videos under ``data``; 40051 AVC off."""
    room = state.rooms.get(args["room_id"], NO_SUCH_ROOM)
    return ok(data=state.avc.get(args["room_id"]).answer(room))
