"""``/room/mix_live/*``: composites of a room pushed to RTMP addresses."""

from __future__ import annotations

from ..state import VendorState
from ..wire import GET_ONLY, Answer, Args, EndpointTable, bad_args, json_list, json_text, ok, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint(
    "/room/mix_live/start",
    text("room_id", True),
    text("push_url", True),
    json_text("videos"),
    # Not in the reference's table, but its changelog adds it (2022/08/26).
    json_text("audio_mixer_users"),
)
def start(state: VendorState, args: Args) -> Answer:
    """Push the room to push_url; 40004 unknown room, 40040 this room already pushes there,
    40060 another room does."""
    state.rooms.get(args["room_id"])
    live = state.lives.start(
        args["room_id"],
        args["push_url"],
        json_list(args["videos"]),
        json_list(args["audio_mixer_users"]),
    )
    return {"msg": "success", "record_id": live.record_id, "ret": 0}


@table.endpoint(
    "/room/mix_live/update_layout",
    text("room_id", True),
    json_text("videos"),
    text("record_id"),
)
def update_layout(state: VendorState, args: Args) -> Answer:
    """New layout; 40004 unknown room, 40041 no live, 40061 record_id not among them."""
    state.rooms.get(args["room_id"])
    state.lives.update_layout(args["room_id"], json_list(args["videos"]), args["record_id"])
    return ok()


@table.endpoint("/room/mix_live/stop", text("room_id"), text("record_id"))
def stop(state: VendorState, args: Args) -> Answer:
    """Stop the room's lives or the given (comma-separated) record ids; 40002 without
    either, 40041 nothing runs, 40046 / 40065 unknown record ids."""
    room_id, record_id = args["room_id"], args["record_id"]
    if not room_id and not record_id:
        raise bad_args()
    if room_id:
        state.rooms.get(room_id)
    record_ids = [r.strip() for r in (record_id or "").split(",") if r.strip()]
    failed = state.lives.stop(room_id, record_ids)
    return ok(failed_record_list=failed) if failed else ok()


@table.endpoint(
    "/room/mix_live/get",
    text("room_id"),
    text("push_url"),
    text("record_id"),
    methods=GET_ONLY,
)
def get(state: VendorState, args: Args) -> Answer:
    """Running lives matching room / push_url / record_id; 40041 when none matches."""
    if args["room_id"]:
        state.rooms.get(args["room_id"])
    lives = state.lives.query(args["room_id"], args["push_url"], args["record_id"])
    return {"data": [live.answer() for live in lives], "ret": 0, "msg": "success"}
