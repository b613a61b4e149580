"""Recordings: record queries, ``/room/mix_record/*``, ``/room/record/*`` and
``/room/desktop_record/*`` (web page recordings are in :mod:`.web_record`)."""

from __future__ import annotations

from ..state import VendorError, VendorState
from ..state.avc import parse_resolution
from ..state.recordings import Recording
from ..wire import (
    Answer,
    Args,
    EndpointTable,
    bad_args,
    boolean,
    choice,
    integer,
    json_list,
    json_text,
    ok,
    text,
)

__all__ = ["table"]

table = EndpointTable()

EXPORTER_TYPES = (0, 3, 6, 9, 11, 13)
AUDIO_SAMPLES = {"pcm": (8000, 16000), "aac": (16000, 32000, 44100, 48000)}


def _known_room(state: VendorState, room_id: str) -> None:
    """40004 unless the room exists or once had recordings (records outlive rooms)."""
    if state.rooms.find(room_id) is None and not state.recordings.of_room(room_id):
        raise VendorError(40004, "no such room_id")


def _timestamp(value: str | None) -> int | None:
    """``record_start_time``/``record_end_time`` arrive as strings here; they hold integers."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_args() from None


def _in_window(record: Recording, start: int | None, end: int | None) -> bool:
    return (start is None or record.started_at >= start) and (
        end is None or record.started_at <= end
    )


def _finished_mixes(state: VendorState, room_id: str) -> list[Recording]:
    return [r for r in state.recordings.of_room(room_id, "mix") if not r.running]


# -- record queries ----------------------------------------------------------------------


@table.endpoint(
    "/room/get_record",
    text("room_id", True),
    text("record_start_time"),
    text("record_end_time"),
    boolean("value_same_as_box", default=False),
    text("record_creater_id"),
    text("record_id"),
    integer("exporter_type"),
)
def get_record(state: VendorState, args: Args) -> Answer:
    """A room's finished recordings with their transcoded files (parallel arrays)."""
    choice(args["exporter_type"], EXPORTER_TYPES)
    start, end = _timestamp(args["record_start_time"]), _timestamp(args["record_end_time"])
    urls = state.recordings.urls
    files = []
    for record in _finished_mixes(state, args["room_id"]):
        if not _in_window(record, start, end):
            continue
        if args["record_id"] and record.record_id != args["record_id"]:
            continue
        if args["record_creater_id"] and record.creator_id != args["record_creater_id"]:
            continue
        original = record.original
        files.append(
            {
                "transcode_files": {
                    "down_url": [urls.download(f.path) for f in record.files],
                    "play_url": [urls.play(f.path, slash=True) for f in record.files],
                    "file_infos": [
                        {
                            "duration": f.duration_text(),
                            "file_size": f.size_text(),
                            "file_name": f.name,
                        }
                        for f in record.files
                    ],
                },
                "record_type": "server",
                "creater_id": record.creator_id or "nil",
                "file_size": original.size_text() if original else "0.000M",
                "start_time": str(int(record.started_at)),
                "end_time": str(int(record.stopped_at or 0)),
                "room_id": record.room_id,
                "down_url": urls.download(original.path) if original else "",
                "record_id": record.record_id,
                "file_type": "tms",
            }
        )
    return ok(record_files=files)


@table.endpoint(
    "/room/get_record_list",
    integer("room_id", True),
    integer("record_start_time", True),
    integer("record_end_time", True),
    integer("pagesize", default=10),
    integer("currpage", default=1),
)
def get_record_list(state: VendorState, args: Args) -> Answer:
    """A page of a room's finished recordings in a time range (room_id is an int here)."""
    if args["pagesize"] < 1 or args["currpage"] < 1:
        raise bad_args()
    urls = state.recordings.urls
    records = [
        r
        for r in _finished_mixes(state, str(args["room_id"]))
        if _in_window(r, args["record_start_time"], args["record_end_time"])
    ]
    first = (args["currpage"] - 1) * args["pagesize"]
    page = records[first : first + args["pagesize"]]
    return ok(
        data=[
            {
                "start_time": str(int(r.started_at)),
                "end_time": str(int(r.stopped_at or 0)),
                "record_type": "server",
                "room_id": r.room_id,
                "down_url": urls.download(r.original.path) if r.original else "",
                "file_type": "tms",
                "file_size": r.original.size_text() if r.original else "0.000M",
                "transcode_files": {},
            }
            for r in page
        ]
    )


# -- mixed recording ---------------------------------------------------------------------


@table.endpoint(
    "/room/mix_record/start",
    text("room_id", True),
    boolean("enable_audio_record", default=True),
    boolean("enable_realtime_transcode", default=False),
    boolean("enable_transcode", default=False),
    text("user_id"),
    text("name"),
    text("video_resolution", default="1280*720"),
    integer("video_bitrate", default=1500),
    integer("video_framerate", default=25),
    json_text("videos"),
    json_text("osds"),
    boolean("enable_osdts_record", default=False),
    text("file_name"),
    boolean("enable_individual_record", default=False),
    boolean("enable_save_mix", default=False),
    boolean("enable_backup", default=False),
    boolean("disable_user_name", default=False),
    text("video_level", default="low"),
    boolean("marking_video_by_id", default=False),
    json_text("audio_mixer_users"),
    text("audio_file_type", default="mp3"),
    text("audio_codec", default="aac"),
    integer("audio_channels", default=1),
    integer("audio_samples", default=16000),
    json_text("audio_data_exporter_address"),
    boolean("enable_create_file_earlier", default=False),
)
def mix_record_start(state: VendorState, args: Args) -> Answer:
    """Start the room's mixed recording; 40004 unknown room, 40040 one already runs."""
    room = state.rooms.get(args["room_id"])
    parse_resolution(args["video_resolution"])
    choice(args["video_level"], ("low", "middle", "high"))
    choice(args["audio_file_type"], ("wav", "mp3"))
    choice(args["audio_codec"], AUDIO_SAMPLES)
    choice(args["audio_channels"], (1, 2))
    choice(args["audio_samples"], AUDIO_SAMPLES[args["audio_codec"]])
    options = {
        k: v
        for k, v in args.items()
        if k not in ("room_id", "user_id", "name", "videos", "audio_mixer_users")
    }
    record = state.recordings.start(
        room,
        "mix",
        args["name"] or "",
        args["user_id"] or "",
        videos=json_list(args["videos"]),
        audio_mixer_users=json_list(args["audio_mixer_users"]),
        **options,
    )
    return {"msg": "success", "record_id": record.record_id, "ret": 0}


@table.endpoint(
    "/room/mix_record/stop",
    text("room_id", True),
    text("stream_type", default="video"),
    text("record_id"),
)
def mix_record_stop(state: VendorState, args: Args) -> Answer:
    """Stop it and list the files produced; 40041 when none runs."""
    choice(args["stream_type"], ("audio", "video", "desktop"))
    room = state.rooms.get(args["room_id"])
    record = state.recordings.stop(room, "mix", args["record_id"])
    urls = state.recordings.urls
    return ok(data=[f.answer(urls) for f in record.files])


@table.endpoint(
    "/room/mix_record/update_layout",
    text("room_id", True),
    json_text("videos"),
    json_text("audio_user_ids"),
    text("record_id"),
)
def mix_record_update_layout(state: VendorState, args: Args) -> Answer:
    """New video layout / mixed-audio users; 40041 when no mixed recording runs."""
    state.rooms.get(args["room_id"])
    record = state.recordings.running(args["room_id"], "mix", args["record_id"])
    if args["videos"] is not None:
        record.videos = json_list(args["videos"])
    if args["audio_user_ids"] is not None:
        record.audio_mixer_users = json_list(args["audio_user_ids"])
    return ok()


@table.endpoint(
    "/room/mix_record/update_audio_layout",
    text("room_id", True),
    json_text("audio_mixer_users", True),
    text("record_id"),
)
def mix_record_update_audio_layout(state: VendorState, args: Args) -> Answer:
    """Which users' audio is mixed (ids, or objects with user_id and channel); 40041."""
    state.rooms.get(args["room_id"])
    record = state.recordings.running(args["room_id"], "mix", args["record_id"])
    record.audio_mixer_users = json_list(args["audio_mixer_users"])
    return {"msg": "success", "ret": 0}


@table.endpoint(
    "/room/mix_record/get",
    text("room_id", True),
    integer("record_type", default=0),
    text("record_id"),
)
def mix_record_get(state: VendorState, args: Args) -> Answer:
    """The room's mixed recordings (the running one first-class too, without files)."""
    choice(args["record_type"], (0, 1, 2))
    _known_room(state, args["room_id"])
    urls = state.recordings.urls
    data = []
    for record in state.recordings.of_room(args["room_id"], "mix"):
        if args["record_id"] and record.record_id != args["record_id"]:
            continue
        original = record.original
        data.append(
            {
                "download_url": urls.download(original.path) if original else "",
                "transcode_files": [
                    {
                        "download_url": urls.download(f.path),
                        "duration": f.duration_text(),
                        "file_size": f.size_text(),
                        "play_url": urls.play(f.path),
                    }
                    for f in record.files
                ],
                "play_url": "",
                "file_size": original.size_text() if original else "0.000M",
                "start_time": str(int(record.started_at)),
                "end_time": "" if record.running else str(int(record.stopped_at or 0)),
                "room_id": record.room_id,
                "file_type": "tms",
                "name": record.name,
                "record_id": record.record_id,
            }
        )
    return ok(data=data)


# -- record status and audio files ---------------------------------------------------------


@table.endpoint("/room/record/status", text("record_id", True))
def record_status(state: VendorState, args: Args) -> Answer:
    """1 while recording, 2 when finished; 40090 for an unknown record id."""
    record = state.recordings.find(args["record_id"])
    if record is not None:
        return ok(record_status=record.status)
    web = state.web_records.find(args["record_id"])
    if web is not None:
        return ok(record_status=1 if web.running(state.now()) else 2)
    raise VendorError(40090, "no such record_id")


@table.endpoint("/room/record/get", text("room_id", True), text("record_id"))
def record_get(state: VendorState, args: Args) -> Answer:
    """The room's MP3 files (from mixed recordings with audio)."""
    _known_room(state, args["room_id"])
    urls = state.recordings.urls
    data = [
        {
            "start_time": str(int(f.start_time)),
            "end_time": str(int(f.end_time)),
            "room_id": f.room_id,
            "play_url": "",
            "download_url": urls.download(f.path),
            "file_type": "mp3",
            "file_size": f.size_text(),
            "name": f.name,
        }
        for r in _finished_mixes(state, args["room_id"])
        if not args["record_id"] or r.record_id == args["record_id"]
        for f in r.files
        if f.file_type == "mp3"
    ]
    return ok(data=data)


# -- desktop recording ---------------------------------------------------------------------


@table.endpoint(
    "/room/desktop_record/start",
    text("room_id", True),
    # Marked required in the reference although it has a default: treated as optional.
    boolean("enable_realtime_transcode", default=False),
    text("name", True),
    text("resource_id"),
    text("file_name"),
)
def desktop_record_start(state: VendorState, args: Args) -> Answer:
    """Record the shared desktop; 40004 unknown room, 40040 one already runs."""
    room = state.rooms.get(args["room_id"])
    record = state.recordings.start(
        room,
        "desktop",
        args["name"],
        resource_id=args["resource_id"],
        file_name=args["file_name"],
        enable_realtime_transcode=args["enable_realtime_transcode"],
    )
    return {"msg": "success", "record_id": record.record_id, "ret": 0}


@table.endpoint("/room/desktop_record/stop", text("room_id", True))
def desktop_record_stop(state: VendorState, args: Args) -> Answer:
    """Stop it; 40004 unknown room, 40041 none runs."""
    room = state.rooms.get(args["room_id"])
    state.recordings.stop(room, "desktop")
    return ok()


@table.endpoint("/room/desktop_record/get", text("room_id", True), text("name"), text("record_id"))
def desktop_record_get(state: VendorState, args: Args) -> Answer:
    """The room's finished desktop recordings (optionally by name or record id)."""
    _known_room(state, args["room_id"])
    urls = state.recordings.urls
    data = [
        f.answer(urls, name=r.name)
        for r in state.recordings.of_room(args["room_id"], "desktop")
        if not r.running
        and (not args["name"] or r.name == args["name"])
        and (not args["record_id"] or r.record_id == args["record_id"])
        for f in r.files
    ]
    return ok(data=data)
