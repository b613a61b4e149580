"""``/web_record/*``: recordings of web pages (their status is in ``/room/record/status``)."""

from __future__ import annotations

from ..state import VendorState
from ..wire import Answer, Args, EndpointTable, integer, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint(
    "/web_record/start",
    text("url", True),
    integer("max_time_second", True),
    text("room_id", default="web_record_default_room"),
    text("name", default="web_record"),
    text("file_name"),
    integer("width", default=1280),
    integer("height", default=720),
    integer("fps", default=20),
    integer("bitrate_kbps", default=2000),
)
def web_record_start(state: VendorState, args: Args) -> Answer:
    """Record a web page; 40121 when the url cannot be loaded (not http/https)."""
    record = state.web_records.start(**args)
    return {"msg": "success", "record_id": record.record_id, "ret": 0}


@table.endpoint("/web_record/stop", text("record_id", True))
def web_record_stop(state: VendorState, args: Args) -> Answer:
    """Stop it and describe the file; 41005 (grpc text) for an unknown record."""
    record = state.web_records.stop(args["record_id"])
    now = state.now()
    return {
        "download_url": state.web_records.urls.download(record.path)
        + "&check_web_record_file=true",
        "duration": f"{record.duration(now):.4f}s",
        "filepath": record.path,
        "msg": "success",
        "record_id": record.record_id,
        "ret": 0,
        "size": record.size_kb(now),
    }


@table.endpoint("/web_record/find", text("record_id", True))
def web_record_find(state: VendorState, args: Args) -> Answer:
    """A web recording's file; 40123 for an unknown record."""
    record = state.web_records.get(args["record_id"], 40123, "record not found")
    now = state.now()
    info = {
        "download_url": state.web_records.urls.download(record.path)
        + "&check_web_record_file=true",
        "duration": f"{record.duration(now):.3f}s",
        "record_id": record.record_id,
        "size": f"{record.size_kb(now) / 1024:.2f}M",
        "url": record.url,
    }
    return {"infos": [info], "msg": "success", "ret": 0}
