"""Rooms: lifecycle, listing, participants and statistics."""

from __future__ import annotations

from .vendor_client import VendorClient

ROOM = "50000000000"


async def open_room(vendor: VendorClient, *users: str, server_id: str | None = None) -> None:
    """Open ROOM through the scenario API with the given users in it."""
    body = {"room_id": ROOM} | ({"server_id": server_id} if server_id else {})
    assert (await vendor.sim("POST", "/rooms", body)).status_code == 200
    for user in users:
        response = await vendor.sim("POST", f"/rooms/{ROOM}/participants", {"user_id": user})
        assert response.status_code == 200


async def test_create_with_existing_id_is_40005_and_read_reconciles(vendor: VendorClient) -> None:
    """A retried create meets 40005; /room/read then returns the room."""
    first = await vendor.call("/room/create", topic="sync", room_id=ROOM, user_id="16")
    assert first == {"ret": 0, "msg": "success", "room_id": ROOM}
    again = await vendor.call("/room/create", topic="sync", room_id=ROOM)
    assert again == {"ret": 40005, "msg": "room_id exists"}
    read = await vendor.call("/room/read", room_id=ROOM)
    assert read["data"] == {
        "enable_auto_avc": False,
        "user_id": "16",
        "enable_auto_cloud_recording": False,
        "topic": "sync",
        "host_id": "",
    }


async def test_create_without_id_makes_an_11_digit_id(vendor: VendorClient) -> None:
    """Without room_id the vendor picks a numeric id."""
    answer = await vendor.call("/room/create", topic="t")
    assert len(answer["room_id"]) == 11
    assert answer["room_id"].isdigit()


async def test_topic_longer_than_150_is_refused(vendor: VendorClient) -> None:
    """The topic is limited to 150 characters."""
    assert (await vendor.call("/room/create", topic="x" * 151))["ret"] == 40002


async def test_update_changes_only_given_fields(vendor: VendorClient) -> None:
    """Update sets what it is given and leaves the rest."""
    await vendor.call("/room/create", topic="a", room_id=ROOM, enable_auto_avc=True)
    await vendor.call("/room/update", room_id=ROOM, host_id="17", password="secret")
    data = (await vendor.call("/room/read", room_id=ROOM))["data"]
    assert data["host_id"] == "17"
    assert data["topic"] == "a"
    assert data["enable_auto_avc"] is True


async def test_unknown_room_is_40004_everywhere(vendor: VendorClient) -> None:
    """update, room_lock and del answer 40004 for an unknown room."""
    for path, method in (
        ("/room/update", "POST"),
        ("/room/room_lock", "GET"),
        ("/room/del", "POST"),
    ):
        answer = await vendor.call(path, method, room_id="nope")
        assert answer == {"ret": 40004, "msg": "no such room_id"}


async def test_lock_and_unlock(vendor: VendorClient) -> None:
    """room_lock locks by default and unlocks with enable_lock=false."""
    await vendor.call("/room/create", topic="a", room_id=ROOM)
    await vendor.call("/room/room_lock", "GET", room_id=ROOM)
    assert vendor.state.rooms.find(ROOM).locked is True
    await vendor.call("/room/room_lock", "GET", room_id=ROOM, enable_lock=False)
    assert vendor.state.rooms.find(ROOM).locked is False


async def test_created_room_is_not_listed_until_opened(vendor: VendorClient) -> None:
    """/room/list shows meetings in progress, not merely created rooms."""
    await vendor.call("/room/create", topic="a", room_id=ROOM)
    listing = await vendor.call("/room/list")
    assert listing == {"msg": "success", "ret": 0, "room_count": 0, "rooms": [], "user_count": 0}


async def test_list_shows_open_rooms_with_users_and_server(vendor: VendorClient) -> None:
    """Open rooms come with their users (node ids) and server_id."""
    await open_room(vendor, "a", "b", server_id="box2")
    listing = await vendor.call("/room/list")
    assert listing["room_count"] == 1
    assert listing["user_count"] == 2
    room = listing["rooms"][0]
    assert room["room_id"] == ROOM
    assert room["server_id"] == "box2"
    assert isinstance(room["create_time"], int)
    assert room["users"] == [
        {"user_name": "a", "node_id": 1, "user_id": "a"},
        {"user_name": "b", "node_id": 2, "user_id": "b"},
    ]


async def test_close_uses_code_and_empties_the_room(vendor: VendorClient) -> None:
    """/room/close answers code 200, everyone leaves, the room is no longer listed."""
    await open_room(vendor, "a")
    assert await vendor.call("/room/close", room_id=ROOM) == {"code": 200, "msg": "success"}
    assert (await vendor.call("/room/list"))["rooms"] == []
    assert (await vendor.call("/room/read", room_id=ROOM))["ret"] == 0


async def test_close_of_a_room_not_open_is_41005(vendor: VendorClient) -> None:
    """Closing an unknown or closed room answers code 41005 with the reference's text."""
    expected = {"code": 41005, "msg": "Internal server error:room not found or opened"}
    assert await vendor.call("/room/close", room_id="nope") == expected
    await vendor.call("/room/create", topic="a", room_id=ROOM)
    assert await vendor.call("/room/close", room_id=ROOM) == expected


async def test_delete_removes_the_room(vendor: VendorClient) -> None:
    """After /room/del the room is unknown."""
    await open_room(vendor, "a")
    assert (await vendor.call("/room/del", room_id=ROOM))["ret"] == 0
    assert (await vendor.call("/room/read", room_id=ROOM))["ret"] == 40004
    assert (await vendor.call("/room/list"))["room_count"] == 0


async def test_participate_list_reports_streams(vendor: VendorClient) -> None:
    """participate/list (code envelope) shows users with their audio and video streams."""
    await vendor.sim("POST", "/rooms", {"room_id": ROOM})
    body = {
        "user_id": "16",
        "user_name": "Ann",
        "device_type": "pc",
        "video": {"name": "webcam C170", "status": "published"},
        "audio": {"name": "Realtek", "status": "init"},
    }
    await vendor.sim("POST", f"/rooms/{ROOM}/participants", body)
    answer = await vendor.call("/room/participate/list", room_id=ROOM)
    assert answer["code"] == 200
    assert answer["participates"] == [
        {
            "user_name": "Ann",
            "user_id": "16",
            "status": 1,
            "videos": [
                {
                    "level": 0,
                    "status": "published",
                    "id": "16_video0",
                    "type": "video",
                    "ctype": "unknown",
                    "name": "webcam C170",
                    "description": "",
                }
            ],
            "type": "pc",
            "audios": [
                {
                    "description": "",
                    "type": "Audio",
                    "status": "init",
                    "name": "Realtek",
                    "id": "16_default",
                }
            ],
        }
    ]


async def test_participate_list_of_unknown_room_is_code_41005(vendor: VendorClient) -> None:
    """An unknown room answers code 41005 "room not found"; a closed one an empty list."""
    answer = await vendor.call("/room/participate/list", room_id="nope")
    assert answer == {"code": 41005, "msg": "Internal server error:room not found"}
    await vendor.call("/room/create", topic="a", room_id=ROOM)
    answer = await vendor.call("/room/participate/list", room_id=ROOM)
    assert answer == {"code": 200, "msg": "success", "participates": []}


async def test_kick_removes_the_user(vendor: VendorClient) -> None:
    """participate/kick answers code 200 and the user is gone."""
    await open_room(vendor, "a", "b")
    assert await vendor.call("/room/participate/kick", room_id=ROOM, user_id="a") == {
        "code": 200,
        "msg": "success",
    }
    users = (await vendor.call("/room/participate/list", room_id=ROOM))["participates"]
    assert [u["user_id"] for u in users] == ["b"]


async def test_kick_errors_use_code(vendor: VendorClient) -> None:
    """Kick: 40004 unknown room, 40009 room not open, 40008 user not in room."""
    answer = await vendor.call("/room/participate/kick", room_id="nope", user_id="a")
    assert answer == {"code": 40004, "msg": "no such room_id"}
    await vendor.call("/room/create", topic="a", room_id=ROOM)
    answer = await vendor.call("/room/participate/kick", room_id=ROOM, user_id="a")
    assert answer == {"code": 40009, "msg": "room not open or not exist"}
    await open_room(vendor, "b")
    answer = await vendor.call("/room/participate/kick", room_id=ROOM, user_id="a")
    assert answer == {"code": 40008, "msg": "user not in room"}


async def test_owner_leaving_closes_the_room_when_asked(vendor: VendorClient) -> None:
    """close_room_with_owner_leave closes the meeting when the owner is kicked."""
    await vendor.call(
        "/room/create", topic="a", room_id=ROOM, user_id="boss", close_room_with_owner_leave=True
    )
    await open_room(vendor, "boss", "guest")
    await vendor.call("/room/participate/kick", room_id=ROOM, user_id="boss")
    assert (await vendor.call("/room/list"))["room_count"] == 0


async def test_statistics_count_meetings_and_platforms(vendor: VendorClient) -> None:
    """get_statistic (no ret/msg) counts meetings, users per platform and meeting time."""
    await vendor.sim("POST", "/rooms", {"room_id": ROOM})
    for user, device in (("a", "ios"), ("b", "android"), ("c", "web")):
        body = {"user_id": user, "device_type": device}
        await vendor.sim("POST", f"/rooms/{ROOM}/participants", body)
    stats = await vendor.call("/room/get_statistic", start_time=0, end_time=2**40, room_id=ROOM)
    assert stats == {
        "meeting_total": 1,
        "ios_cnt": 1,
        "pc_cnt": 0,
        "user_cnt": 3,
        "other_cnt": 0,
        "android_cnt": 1,
        "time_total": 0,
        "box_cnt": 0,
        "web_cnt": 1,
    }


async def test_statistics_respect_the_time_window(vendor: VendorClient) -> None:
    """Counters set at a time are only counted in windows containing it."""
    await vendor.sim("PUT", "/statistics", {"room_id": ROOM, "at": 1000, "meeting_total": 5})
    inside = await vendor.call("/room/get_statistic", start_time=900, end_time=1100, room_id=ROOM)
    outside = await vendor.call("/room/get_statistic", start_time=1200, end_time=1300)
    assert inside["meeting_total"] == 5
    assert outside["meeting_total"] == 0


async def test_statistics_of_unknown_room_is_40004(vendor: VendorClient) -> None:
    """A room never seen answers 40004 (the example's 40003 would mean a bad token)."""
    answer = await vendor.call("/room/get_statistic", start_time=0, end_time=1, room_id="nope")
    assert answer == {"ret": 40004, "msg": "no such room_id"}


async def test_statistics_window_must_be_ordered(vendor: VendorClient) -> None:
    """start_time after end_time is an argument error."""
    assert (await vendor.call("/room/get_statistic", start_time=2, end_time=1))["ret"] == 40002


async def test_chat_log_groups_messages_by_session(vendor: VendorClient) -> None:
    """get_chat_message_log returns the room's messages (fromId) by session."""
    await open_room(vendor, "9")
    for sender, text in (("9", "hi"), ("10", "hello")):
        body = {"from_id": sender, "message": text, "timestamp": 1600391155}
        await vendor.sim("POST", f"/rooms/{ROOM}/chat", body)
    answer = await vendor.call("/room/get_chat_message_log", room_id=ROOM, fromid="9")
    [session] = answer["data"]
    [message] = session["messages"]
    assert message["fromId"] == "9"
    assert message["message"] == "hi"
    assert message["dst"] == ROOM
    late = await vendor.call("/room/get_chat_message_log", room_id=ROOM, start_time=1600391156)
    assert late["data"] == []


async def test_chat_log_of_unknown_room_is_40004(vendor: VendorClient) -> None:
    """An unknown room has no chat log."""
    answer = await vendor.call("/room/get_chat_message_log", room_id="nope")
    assert answer["ret"] == 40004
