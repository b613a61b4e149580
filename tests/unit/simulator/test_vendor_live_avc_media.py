"""Mixed live streams, AVC composites and media players."""

from __future__ import annotations

from .vendor_client import VendorClient

ROOM = "70000000000"
PUSH = "rtmp://121.41.119.216/live/one"


async def open_room(vendor: VendorClient, room_id: str = ROOM) -> None:
    """An open room with one user publishing video u1_video0."""
    await vendor.sim("POST", f"/rooms/{room_id}/participants", {"user_id": "u1"})


# -- live --------------------------------------------------------------------------------


async def test_live_start_get_stop(vendor: VendorClient) -> None:
    """start returns a record_id that get reports (rtmp_url = push_url); stop ends it."""
    await open_room(vendor)
    start = await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    record_id = start["record_id"]
    got = await vendor.call("/room/mix_live/get", "GET", room_id=ROOM)
    assert got == {
        "data": [{"record_id": record_id, "push_url": PUSH, "rtmp_url": PUSH}],
        "ret": 0,
        "msg": "success",
    }
    by_id = await vendor.call("/room/mix_live/get", "GET", record_id=record_id)
    assert by_id["data"][0]["push_url"] == PUSH
    assert await vendor.call("/room/mix_live/stop", room_id=ROOM) == {"ret": 0, "msg": "success"}
    gone = await vendor.call("/room/mix_live/get", "GET", room_id=ROOM)
    assert gone == {"ret": 40041, "msg": "room hasn't start mix_live"}


async def test_second_live_start_to_the_same_url_is_40040(vendor: VendorClient) -> None:
    """The same room pushing to the same url again answers 40040; another url is a second live."""
    await open_room(vendor)
    await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    again = await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    assert again == {"ret": 40040, "msg": "room already has mix_record or mix_live"}
    other = await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH + "2")
    assert other["ret"] == 0
    assert len((await vendor.call("/room/mix_live/get", "GET", room_id=ROOM))["data"]) == 2


async def test_push_url_taken_by_another_room_is_40060(vendor: VendorClient) -> None:
    """A push url another room is using answers 40060."""
    await open_room(vendor)
    await open_room(vendor, "other")
    await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    answer = await vendor.call("/room/mix_live/start", room_id="other", push_url=PUSH)
    assert answer == {"ret": 40060, "msg": "room has already start live"}


async def test_live_stop_errors(vendor: VendorClient) -> None:
    """Stop: 40002 without room or record, 40041 nothing runs, 40046 / 40065 unknown ids."""
    await open_room(vendor)
    assert (await vendor.call("/room/mix_live/stop"))["ret"] == 40002
    assert await vendor.call("/room/mix_live/stop", room_id=ROOM) == {
        "ret": 40041,
        "msg": "room hasn't start mix_live",
    }
    single = await vendor.call("/room/mix_live/stop", record_id="a" * 32)
    assert single == {"ret": 40046, "msg": "room not have this record", "record_id": "a" * 32}
    several = await vendor.call("/room/mix_live/stop", record_id=f"{'a' * 32},{'b' * 32}")
    assert several["ret"] == 40065
    assert several["msg"] == "close room live error"
    assert [f["ret"] for f in several["failed_record_list"]] == [40046, 40046]


async def test_live_stop_reports_partial_failures(vendor: VendorClient) -> None:
    """One known and one unknown id: success with the failure listed."""
    await open_room(vendor)
    live = await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    answer = await vendor.call("/room/mix_live/stop", record_id=f"{live['record_id']},{'c' * 32}")
    assert answer["ret"] == 0
    assert answer["failed_record_list"] == [
        {"msg": "room not have this record", "record_id": "c" * 32, "ret": 40046}
    ]


async def test_live_update_layout(vendor: VendorClient) -> None:
    """update_layout: 40041 without live, 40061 unknown record id, success otherwise."""
    await open_room(vendor)
    videos = [{"video_name": "u1", "zorder": 0, "x": 0, "y": 0, "w": 1, "h": 1}]
    assert (await vendor.call("/room/mix_live/update_layout", room_id=ROOM, videos=videos))[
        "ret"
    ] == 40041
    await vendor.call("/room/mix_live/start", room_id=ROOM, push_url=PUSH)
    wrong = await vendor.call("/room/mix_live/update_layout", room_id=ROOM, record_id="x")
    assert wrong["ret"] == 40061
    assert (await vendor.call("/room/mix_live/update_layout", room_id=ROOM, videos=videos))[
        "ret"
    ] == 0


async def test_live_of_unknown_room_is_40004(vendor: VendorClient) -> None:
    """start, get and stop name an unknown room with 40004."""
    assert (await vendor.call("/room/mix_live/start", room_id="x", push_url=PUSH))["ret"] == 40004
    assert (await vendor.call("/room/mix_live/get", "GET", room_id="x"))["ret"] == 40004
    assert (await vendor.call("/room/mix_live/stop", room_id="x"))["ret"] == 40004


# -- AVC ---------------------------------------------------------------------------------


async def test_avc_set_twice_and_unset(vendor: VendorClient) -> None:
    """avc/start twice is 40050; stop, then stop again or read is 40051."""
    await open_room(vendor)
    params = {"room_id": ROOM, "max_video_number": 4, "layout_mode": 1}
    assert (await vendor.call("/room/avc/start", **params))["ret"] == 0
    assert await vendor.call("/room/avc/start", **params) == {
        "ret": 40050,
        "msg": "room already has set avc mode",
    }
    assert (await vendor.call("/room/avc/stop", room_id=ROOM))["ret"] == 0
    unset = {"ret": 40051, "msg": "room hasn't set avc mode"}
    assert await vendor.call("/room/avc/stop", room_id=ROOM) == unset
    assert await vendor.call("/room/avc/get_avc_setting", room_id=ROOM) == unset
    assert await vendor.call("/room/avc/select_media", room_id=ROOM, videos=[]) == unset


async def test_avc_start_needs_its_required_parameters(vendor: VendorClient) -> None:
    """max_video_number and layout_mode are required; an unknown room is 40004."""
    await open_room(vendor)
    answer = await vendor.call("/room/avc/start", room_id=ROOM, layout_mode=1)
    assert answer == {"ret": 40002, "msg": "arg max_video_number required"}
    bad_mode = await vendor.call("/room/avc/start", room_id=ROOM, max_video_number=2, layout_mode=7)
    assert bad_mode["ret"] == 40002
    unknown = await vendor.call("/room/avc/start", room_id="x", max_video_number=2, layout_mode=1)
    assert unknown == {"ret": 40004, "msg": "no such room id"}


async def test_avc_setting_reflects_layout_and_selection(vendor: VendorClient) -> None:
    """get_avc_setting shows the automatic grid, then the selected videos and new encoding."""
    await open_room(vendor)
    await vendor.call(
        "/room/avc/start", room_id=ROOM, max_video_number=4, layout_mode=1, video_name="mix"
    )
    data = (await vendor.call("/room/avc/get_avc_setting", room_id=ROOM))["data"]
    assert data["layoutMode"] == "Outgoing_View_Layout_Auto_Orato"
    assert (data["view_width"], data["view_height"], data["view_fps"]) == (1280, 720, 15)
    assert list(data["videos"]) == ["u1_video0"]
    await vendor.call(
        "/room/avc/update_layout", room_id=ROOM, layout_mode=2, video_resolution="1920*1080"
    )
    videos = [{"video_name": "u1", "zorder": 1, "x": 0.5, "y": 0, "w": 0.5, "h": 0.5}]
    await vendor.call("/room/avc/select_media", room_id=ROOM, videos=videos)
    data = (await vendor.call("/room/avc/get_avc_setting", room_id=ROOM))["data"]
    assert data["view_width"] == 1920
    assert data["layoutMode"] == "Outgoing_View_Layout_Main_Video"
    assert data["videos"]["u1"]["x"] == 0.5
    assert data["videos"]["u1"]["extend_info"] == '{"osd":"u1"}'


async def test_avc_focus_needs_a_known_stream(vendor: VendorClient) -> None:
    """set_focus_video / update_layout with an unknown resource id answer 40045."""
    await open_room(vendor)
    await vendor.call("/room/avc/start", room_id=ROOM, max_video_number=4, layout_mode=2)
    unknown = await vendor.call("/room/avc/set_focus_video", room_id=ROOM, resource_id="x")
    assert unknown == {"ret": 40045, "msg": "internal server error"}
    main = await vendor.call("/room/avc/update_layout", room_id=ROOM, main_video_resource_id="x")
    assert main["ret"] == 40045
    ok = await vendor.call("/room/avc/set_focus_video", room_id=ROOM, resource_id="u1_video0")
    assert ok["ret"] == 0


# -- media players -------------------------------------------------------------------------


async def create_player(vendor: VendorClient) -> str:
    """A player in ROOM; returns its play id."""
    await open_room(vendor)
    answer = await vendor.call("/media/create", room_id=ROOM, name="realtime_play")
    return str(answer["play_id"])


async def test_media_player_lifecycle(vendor: VendorClient) -> None:
    """create, play (data), pause, resume, replay, switch, info, stop."""
    play_id = await create_player(vendor)
    ids = {"room_id": ROOM, "play_id": play_id}
    played = await vendor.call("/media/play", url="/root/test.mp4", **ids)
    assert set(played["data"]) == {"width", "duration", "has_video", "height", "has_audio"}
    assert played["data"]["has_video"] == 1
    assert (await vendor.call("/media/pause", **ids))["ret"] == 0
    assert (await vendor.call("/media/resume", **ids))["ret"] == 0
    await vendor.call("/media/replay", url="/root/test.mp4", **ids)
    switched = await vendor.call("/media/switch", url="/root/song.mp3", **ids)
    assert switched["data"]["has_video"] == 0
    info = await vendor.call("/media/get_media_info", url="/root/test.mp4", **ids)
    [player] = info["data"]
    assert player["play_id"] == play_id
    assert player["play_files"][0]["play_count"] == 2
    assert (await vendor.call("/media/stop", **ids))["ret"] == 0
    assert (await vendor.call("/media/pause", **ids))["ret"] == 40081


async def test_media_errors(vendor: VendorClient) -> None:
    """40080 same name twice, 40081 unknown play id, 40084 nothing played, 40004 room."""
    play_id = await create_player(vendor)
    again = await vendor.call("/media/create", room_id=ROOM, name="realtime_play")
    assert again == {"ret": 40080, "msg": "media has already exist"}
    unknown = await vendor.call("/media/play", room_id=ROOM, play_id="x", url="/a.mp4")
    assert unknown == {"ret": 40081, "msg": "room doesn't have such play_id media"}
    idle = await vendor.call("/media/pause", room_id=ROOM, play_id=play_id)
    assert idle == {"ret": 40084, "msg": "have no media info"}
    assert (await vendor.call("/media/create", room_id="x", name="p"))["ret"] == 40004
    codec = await vendor.call(
        "/media/create", room_id=ROOM, name="p2", player_out_audio_codec="mp3"
    )
    assert codec["ret"] == 40002
