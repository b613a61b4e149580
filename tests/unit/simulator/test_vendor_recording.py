"""Recordings: mixed, desktop and web recordings, their files and transcoding."""

from __future__ import annotations

from .vendor_client import VendorClient

ROOM = "12345678980"


async def room_with_users(vendor: VendorClient) -> None:
    """ROOM, created and open with two users."""
    await vendor.call("/room/create", topic="rec", room_id=ROOM)
    for user in ("a", "b"):
        await vendor.sim("POST", f"/rooms/{ROOM}/participants", {"user_id": user})


async def test_mix_record_start_twice_is_40040(vendor: VendorClient) -> None:
    """The second start in a room answers 40040; get reports the running record id."""
    await room_with_users(vendor)
    first = await vendor.call("/room/mix_record/start", room_id=ROOM)
    assert len(first["record_id"]) == 32
    again = await vendor.call("/room/mix_record/start", room_id=ROOM)
    assert again == {"ret": 40040, "msg": "room already has mix_record or mix_live"}
    current = await vendor.call("/room/mix_record/get", room_id=ROOM)
    assert [r["record_id"] for r in current["data"]] == [first["record_id"]]
    assert current["data"][0]["end_time"] == ""


async def test_mix_record_stop_without_start_is_40041(vendor: VendorClient) -> None:
    """Stopping (or re-laying out) what is not running answers 40041."""
    await room_with_users(vendor)
    expected = {"ret": 40041, "msg": "room hasn't start mix_record"}
    assert await vendor.call("/room/mix_record/stop", room_id=ROOM) == expected
    assert await vendor.call("/room/mix_record/update_layout", room_id=ROOM, videos=[]) == expected
    answer = await vendor.call(
        "/room/mix_record/update_audio_layout", room_id=ROOM, audio_mixer_users=["a"]
    )
    assert answer == expected


async def test_mix_record_of_unknown_room_is_40004(vendor: VendorClient) -> None:
    """Starting a recording needs an existing room."""
    answer = await vendor.call("/room/mix_record/start", room_id="nope")
    assert answer == {"ret": 40004, "msg": "no such room_id"}


async def test_mix_record_stop_lists_files(vendor: VendorClient) -> None:
    """Stop returns the mixed mp4, the mp3 and one file per user when individual."""
    await room_with_users(vendor)
    start = await vendor.call("/room/mix_record/start", room_id=ROOM, enable_individual_record=True)
    stop = await vendor.call("/room/mix_record/stop", room_id=ROOM, record_id=start["record_id"])
    names = [f["name"] for f in stop["data"]]
    assert [n.rsplit(".", 1)[-1] for n in names] == ["mp4", "mp3", "mp4", "mp4"]
    assert names[2:] == ["a_a_v1.mp4", "b_b_v1.mp4"]
    file = stop["data"][0]
    assert file["download_url"].startswith("http://127.0.0.1:9610/attachment?file=/")
    assert file["play_url"] == "http://127.0.0.1:9610/videoPlayer?url=" + file["download_url"]
    assert file["room_id"] == ROOM
    assert file["duration"].endswith("s")
    assert file["file_size"].endswith("M")


async def test_stop_with_another_record_id_is_40041(vendor: VendorClient) -> None:
    """A record id that is not the running one is not stopped."""
    await room_with_users(vendor)
    await vendor.call("/room/mix_record/start", room_id=ROOM)
    answer = await vendor.call("/room/mix_record/stop", room_id=ROOM, record_id="f" * 32)
    assert answer["ret"] == 40041


async def test_layout_updates_reach_the_running_record(vendor: VendorClient) -> None:
    """update_layout and update_audio_layout change the running recording."""
    await room_with_users(vendor)
    start = await vendor.call("/room/mix_record/start", room_id=ROOM)
    videos = [{"video_name": "a", "zorder": 0, "x": 0, "y": 0, "w": 1, "h": 1}]
    await vendor.call("/room/mix_record/update_layout", room_id=ROOM, videos=videos)
    mixers = [{"user_id": "a", "channel": 1}]
    await vendor.call(
        "/room/mix_record/update_audio_layout", room_id=ROOM, audio_mixer_users=mixers
    )
    record = vendor.state.recordings.find(start["record_id"])
    assert record.videos == videos
    assert record.audio_mixer_users == mixers


async def test_mix_record_options_are_validated(vendor: VendorClient) -> None:
    """Enumerated options outside their documented values are 40002."""
    await room_with_users(vendor)
    for bad in (
        {"video_level": "ultra"},
        {"audio_codec": "mp3"},
        {"video_resolution": "big"},
        {"audio_codec": "pcm", "audio_samples": 44100},
    ):
        answer = await vendor.call("/room/mix_record/start", room_id=ROOM, **bad)
        assert answer["ret"] == 40002, bad


async def test_finished_recordings_are_queryable(vendor: VendorClient) -> None:
    """get_record, get_record_list, mix_record/get and record/get see a stopped recording."""
    await room_with_users(vendor)
    start = await vendor.call("/room/mix_record/start", room_id=ROOM, user_id="a")
    await vendor.call("/room/mix_record/stop", room_id=ROOM)
    record_id = start["record_id"]
    records = (await vendor.call("/room/get_record", room_id=ROOM))["record_files"]
    assert [r["record_id"] for r in records] == [record_id]
    assert records[0]["creater_id"] == "a"
    assert records[0]["down_url"].endswith(".tms")
    assert len(records[0]["transcode_files"]["down_url"]) == 2
    by_creator = await vendor.call("/room/get_record", room_id=ROOM, record_creater_id="b")
    assert by_creator["record_files"] == []
    listing = await vendor.call(
        "/room/get_record_list", room_id=ROOM, record_start_time=0, record_end_time=2**40
    )
    assert len(listing["data"]) == 1
    page_two = await vendor.call(
        "/room/get_record_list",
        room_id=ROOM,
        record_start_time=0,
        record_end_time=2**40,
        currpage=2,
    )
    assert page_two["data"] == []
    mp3 = (await vendor.call("/room/record/get", room_id=ROOM))["data"]
    assert [f["file_type"] for f in mp3] == ["mp3"]
    mixes = (await vendor.call("/room/mix_record/get", room_id=ROOM))["data"]
    assert mixes[0]["transcode_files"][0]["download_url"].endswith(".mp4")


async def test_get_record_list_wants_a_numeric_room_id(vendor: VendorClient) -> None:
    """room_id is typed int on get_record_list only."""
    answer = await vendor.call(
        "/room/get_record_list", room_id="abc", record_start_time=0, record_end_time=1
    )
    assert answer["ret"] == 40002


async def test_record_status_and_transcode(vendor: VendorClient) -> None:
    """record/status is 1 then 2; transcode/query 0 then 3; unknown ids 40090."""
    await room_with_users(vendor)
    record_id = (await vendor.call("/room/mix_record/start", room_id=ROOM))["record_id"]
    assert (await vendor.call("/room/record/status", record_id=record_id))["record_status"] == 1
    query = {"room_id": ROOM, "record_id": record_id}
    assert (await vendor.call("/transcode/query", **query))["status"] == 0
    await vendor.call("/room/mix_record/stop", room_id=ROOM)
    assert (await vendor.call("/room/record/status", record_id=record_id))["record_status"] == 2
    assert (await vendor.call("/transcode/query", **query))["status"] == 3
    assert (await vendor.call("/room/record/transfer", **query))["ret"] == 0
    unknown = await vendor.call("/room/record/status", record_id="0" * 32)
    assert unknown == {"ret": 40090, "msg": "no such record_id"}
    assert (await vendor.call("/transcode/query", room_id=ROOM, record_id="x"))["ret"] == 40090


async def test_delete_record_file_and_room_records(vendor: VendorClient) -> None:
    """delete_record removes one file (40094 after); del_record removes all recordings."""
    await room_with_users(vendor)
    await vendor.call("/room/mix_record/start", room_id=ROOM)
    stop = await vendor.call("/room/mix_record/stop", room_id=ROOM)
    url = stop["data"][0]["download_url"]
    assert (await vendor.call("/room/delete_record", delete_type=0, url=url))["ret"] == 0
    again = await vendor.call("/room/delete_record", delete_type=0, url=url)
    assert again == {"ret": 40094, "msg": "no such record"}
    assert (await vendor.call("/room/del_record", room_id=ROOM))["ret"] == 0
    assert (await vendor.call("/room/get_record", room_id=ROOM))["record_files"] == []
    assert (await vendor.call("/room/del_record", room_id="nope"))["ret"] == 40004


async def test_closing_the_room_finishes_the_recording(vendor: VendorClient) -> None:
    """A recording running when the room closes is stopped and its files kept."""
    await room_with_users(vendor)
    record_id = (await vendor.call("/room/mix_record/start", room_id=ROOM))["record_id"]
    await vendor.call("/room/close", room_id=ROOM)
    assert (await vendor.call("/room/record/status", record_id=record_id))["record_status"] == 2
    assert (await vendor.call("/room/mix_record/start", room_id=ROOM))["ret"] == 0


async def test_desktop_recording_lifecycle(vendor: VendorClient) -> None:
    """Desktop recording: start (record_id), 40040 twice, stop, 40041, get by name."""
    await room_with_users(vendor)
    start = await vendor.call("/room/desktop_record/start", room_id=ROOM, name="ceshi")
    assert len(start["record_id"]) == 32
    assert (await vendor.call("/room/desktop_record/start", room_id=ROOM, name="x"))["ret"] == 40040
    assert (await vendor.call("/room/desktop_record/stop", room_id=ROOM))["ret"] == 0
    assert (await vendor.call("/room/desktop_record/stop", room_id=ROOM))["ret"] == 40041
    files = (await vendor.call("/room/desktop_record/get", room_id=ROOM, name="ceshi"))["data"]
    assert [f["name"] for f in files] == ["ceshi"]
    assert files[0]["file_type"] == "mp4"
    assert (await vendor.call("/room/desktop_record/get", room_id=ROOM, name="other"))["data"] == []


async def test_desktop_record_needs_name(vendor: VendorClient) -> None:
    """name is required on desktop_record/start."""
    await room_with_users(vendor)
    answer = await vendor.call("/room/desktop_record/start", room_id=ROOM)
    assert answer == {"ret": 40002, "msg": "arg name required"}


async def test_web_recording_lifecycle(vendor: VendorClient) -> None:
    """web_record: start, find (infos), stop (filepath, size), status."""
    start = await vendor.call("/web_record/start", url="https://example.com", max_time_second=60)
    record_id = start["record_id"]
    found = await vendor.call("/web_record/find", record_id=record_id)
    assert found["infos"][0]["url"] == "https://example.com"
    assert found["infos"][0]["download_url"].endswith("&check_web_record_file=true")
    assert (await vendor.call("/room/record/status", record_id=record_id))["record_status"] == 1
    stop = await vendor.call("/web_record/stop", record_id=record_id)
    assert stop["record_id"] == record_id
    assert stop["filepath"].startswith("/opt/3tee/recorder/files/")
    assert isinstance(stop["size"], float)
    assert (await vendor.call("/room/record/status", record_id=record_id))["record_status"] == 2
    attachment = await vendor.call("/attachment", token=None, file=stop["filepath"])
    assert attachment == {"msg": "success", "ret": 0}


async def test_web_record_errors(vendor: VendorClient) -> None:
    """40121 for a url that cannot load, 40123 find unknown, 41005 stop unknown."""
    bad = await vendor.call("/web_record/start", url="ftp://x", max_time_second=60)
    assert bad == {"ret": 40121, "msg": " faild reason = Url load failed."}
    assert await vendor.call("/web_record/find", record_id="x") == {
        "ret": 40123,
        "msg": "record not found",
    }
    stop = await vendor.call("/web_record/stop", record_id="x")
    assert stop["ret"] == 41005
    assert "not found record info" in stop["msg"]
