"""``/uploadfile`` and ``/attachment``, served at the root (no ``/sdkapi/v2``)."""

from __future__ import annotations

from starlette.responses import Response

from ..state import VendorError, VendorState
from ..wire import POST_ONLY, Answer, Args, EndpointTable, boolean, ok, text, upload

__all__ = ["table"]

table = EndpointTable()


@table.endpoint(
    "/uploadfile",
    upload("file", True),
    text("path", default="/opt/data/resources"),
    boolean("storage_only_cluster", default=False),
    methods=POST_ONLY,
    root=True,
)
def uploadfile(state: VendorState, args: Args) -> Answer:
    """Keep the file in memory; 10911 for a type other than png/jpg/mp3/mp4/avi, 10912 > 50M."""
    file = args["file"]
    stored = state.uploads.save(
        file.filename, file.data, args["path"], args["storage_only_cluster"]
    )
    return ok(download_url=state.urls.download(stored.path))


@table.endpoint(
    "/attachment",
    text("token"),
    text("file"),
    text("record_id"),
    boolean("check_web_record_file", default=False),
    auth=False,
    root=True,
)
def attachment(state: VendorState, args: Args) -> Answer:
    """An uploaded file's bytes; a success answer for a recording file (the simulator keeps
    no media); 10913 when nothing matches."""
    path = args["file"] or ""
    stored = state.uploads.get(path)
    if stored is not None:
        return Response(stored.data, media_type=stored.media_type)
    if path and (
        state.recordings.find_file(path) is not None or state.web_records.by_path(path) is not None
    ):
        return {"msg": "success", "ret": 0}
    if args["record_id"] and state.web_records.find(args["record_id"]) is not None:
        return {"msg": "success", "ret": 0}
    raise VendorError(10913, "fail to Attachment, Cannot find file.")
