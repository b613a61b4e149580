"""Recording files: transfer, deletion and transcoding status."""

from __future__ import annotations

from ..state import VendorError, VendorState
from ..state.recordings import Recording
from ..wire import Answer, Args, EndpointTable, choice, integer, ok, text

__all__ = ["table"]

table = EndpointTable()


def _record_of_room(state: VendorState, room_id: str, record_id: str) -> Recording:
    """The room's recording; 40090 ("no such record_id", as /room/record/status prints)."""
    record = state.recordings.find(record_id)
    if record is None or record.room_id != room_id:
        raise VendorError(40090, "no such record_id")
    return record


@table.endpoint("/room/record/transfer", text("room_id", True), text("record_id", True))
def record_transfer(state: VendorState, args: Args) -> Answer:
    """Accept a transfer of a known recording (nothing observable changes); 40090."""
    _record_of_room(state, args["room_id"], args["record_id"])
    return ok()


@table.endpoint("/room/del_record", text("room_id", True))
def del_record(state: VendorState, args: Args) -> Answer:
    """Delete all finished recordings of a room; 40004 when the room was never seen."""
    room_id = args["room_id"]
    if state.rooms.find(room_id) is None and not state.recordings.of_room(room_id):
        raise VendorError(40004, "no such room_id")
    state.recordings.delete_room(room_id)
    return ok()


@table.endpoint("/transcode/query", text("room_id", True), text("record_id", True))
def transcode_query(state: VendorState, args: Args) -> Answer:
    """0 while recording, 3 once transcoded (right after stop); 40090 unknown record."""
    record = _record_of_room(state, args["room_id"], args["record_id"])
    return ok(status=record.transcode_status)


@table.endpoint("/room/delete_record", integer("delete_type", True), text("url", True))
def delete_record(state: VendorState, args: Args) -> Answer:
    """Delete one recording file by path or download URL; 40094 when there is none."""
    choice(args["delete_type"], (0, 1, 2))
    state.recordings.delete_file(args["url"])
    return ok()
