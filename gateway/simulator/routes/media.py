"""``/media/*``: players that play server files or network streams into a room."""

from __future__ import annotations

from ..state import VendorState
from ..wire import Answer, Args, EndpointTable, bad_args, boolean, choice, integer, ok, text

__all__ = ["table"]

table = EndpointTable()

AUDIO_CODECS = ("pcma", "pcmu", "opus", "g722")


def _room(state: VendorState, args: Args) -> str:
    room_id: str = args["room_id"]
    state.rooms.get(room_id)
    return room_id


@table.endpoint(
    "/media/create",
    text("room_id", True),
    text("name", True),
    text("user_id"),
    boolean("auto_publish_mock_audio", default=False),
    text("player_out_audio_codec", default="g722"),
    boolean("waiting_room_close", default=False),
    text("stop_event_notify_delay_time", default="2"),
    text("video_name"),
)
def create(state: VendorState, args: Args) -> Answer:
    """A new player; 40004 unknown room, 40080 same name or user already in the room."""
    room_id = _room(state, args)
    choice(args["player_out_audio_codec"].lower(), AUDIO_CODECS)
    if not args["stop_event_notify_delay_time"].isdigit():
        raise bad_args()
    player = state.media.create(
        room_id,
        args["name"],
        args["user_id"] or None,
        auto_publish_mock_audio=args["auto_publish_mock_audio"],
        player_out_audio_codec=args["player_out_audio_codec"],
        waiting_room_close=args["waiting_room_close"],
        stop_event_notify_delay_time=args["stop_event_notify_delay_time"],
        video_name=args["video_name"],
    )
    return ok(play_id=player.play_id)


@table.endpoint(
    "/media/play",
    text("room_id", True),
    text("url", True),
    text("play_id", True),
    integer("replay_times", default=0),
    boolean("enable_auto_close_stream", default=True),
)
def play(state: VendorState, args: Args) -> Answer:
    """Play url; ``data`` describes the media; 40081 unknown play_id."""
    if args["replay_times"] < -1:
        raise bad_args()
    file = state.media.play(_room(state, args), args["play_id"], args["url"])
    return ok(data=file.probe())


@table.endpoint("/media/stop", text("room_id", True), text("play_id", True))
def stop(state: VendorState, args: Args) -> Answer:
    """Close the player; 40081 unknown play_id."""
    state.media.stop(_room(state, args), args["play_id"])
    return ok()


@table.endpoint("/media/pause", text("room_id", True), text("play_id", True))
def pause(state: VendorState, args: Args) -> Answer:
    """Pause; 40081 unknown play_id, 40084 nothing played yet."""
    state.media.pause(_room(state, args), args["play_id"])
    return ok()


@table.endpoint("/media/resume", text("room_id", True), text("play_id", True))
def resume(state: VendorState, args: Args) -> Answer:
    """Resume; 40081 unknown play_id, 40084 nothing played yet."""
    state.media.resume(_room(state, args), args["play_id"])
    return ok()


@table.endpoint("/media/replay", text("room_id", True), text("play_id", True), text("url", True))
def replay(state: VendorState, args: Args) -> Answer:
    """Play url again from the start; 40081 unknown play_id."""
    file = state.media.play(_room(state, args), args["play_id"], args["url"])
    return ok(data=file.probe())


@table.endpoint(
    "/media/get_media_info", text("room_id", True), text("play_id", True), text("url", True)
)
def get_media_info(state: VendorState, args: Args) -> Answer:
    """The player and what it played of url; 40081 unknown play_id, 40084 url never played."""
    player = state.media.info(_room(state, args), args["play_id"], args["url"])
    return ok(data=[player.answer(args["url"])])


@table.endpoint("/media/switch", text("room_id", True), text("play_id", True), text("url", True))
def switch(state: VendorState, args: Args) -> Answer:
    """Switch the player to url; 40081 unknown play_id."""
    file = state.media.play(_room(state, args), args["play_id"], args["url"])
    return ok(data=file.probe())
