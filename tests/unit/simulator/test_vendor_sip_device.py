"""SIP gates and accounts; device invitations."""

from __future__ import annotations

from .vendor_client import VendorClient, seeded_settings, simulator

ROOM = "60000000000"


async def test_sip_gate_url_exists_is_40019_and_list_shows_it(vendor: VendorClient) -> None:
    """A second gate with the same url answers 40019; the list holds the first."""
    created = await vendor.call("/sip/gate/create", name="334", url="121.41.102.126:50601")
    assert created == {
        "msg": "success",
        "ret": 0,
        "url": "121.41.102.126:50601",
        "name": "334",
        "gate_id": 1,
    }
    again = await vendor.call("/sip/gate/create", name="other", url="121.41.102.126:50601")
    assert again == {"ret": 40019, "msg": "sip gate url exists"}
    listing = await vendor.call("/sip/gate/list")
    assert listing["sip_gates"] == [
        {"id": 1, "name": "334", "status": "1", "url": "121.41.102.126:50601"}
    ]


async def test_sip_gate_update_and_delete(vendor: VendorClient) -> None:
    """update changes name/url/status (40019 on a taken url); del removes (40020 after)."""
    first = (await vendor.call("/sip/gate/create", name="a", url="1.1.1.1:1"))["gate_id"]
    await vendor.call("/sip/gate/create", name="b", url="2.2.2.2:2")
    taken = await vendor.call(
        "/sip/gate/update", sip_gate_id=first, name="a", url="2.2.2.2:2", status="1"
    )
    assert taken["ret"] == 40019
    bad_status = await vendor.call(
        "/sip/gate/update", sip_gate_id=first, name="a", url="3:3", status="2"
    )
    assert bad_status["ret"] == 40002
    await vendor.call("/sip/gate/update", sip_gate_id=first, name="z", url="3.3.3.3:3", status="0")
    gates = (await vendor.call("/sip/gate/list"))["sip_gates"]
    assert gates[0] == {"id": first, "name": "z", "status": "0", "url": "3.3.3.3:3"}
    assert (await vendor.call("/sip/gate/del", sip_gate_id=first))["ret"] == 0
    assert await vendor.call("/sip/gate/del", sip_gate_id=first) == {
        "ret": 40020,
        "msg": "no such sip_gate_id",
    }


async def test_sip_accounts(vendor: VendorClient) -> None:
    """Accounts: create (40020 unknown gate, 40021 taken name), read, update, del (40022)."""
    gate = (await vendor.call("/sip/gate/create", name="g", url="1.1.1.1:1"))["gate_id"]
    assert await vendor.call("/sip/account/create", sip_gate_id=99, name="1", password="p") == {
        "ret": 40020,
        "msg": "no such sip_gate",
    }
    created = await vendor.call(
        "/sip/account/create",
        sip_gate_id=gate,
        name="1001",
        password="123457",
        recv_audio_codec="pcma",
        bind_media_server="box2",
    )
    account = created["account_id"]
    assert created == {
        "account_id": account,
        "msg": "success",
        "ret": 0,
        "name": "1001",
        "sip_gate_id": gate,
    }
    taken = await vendor.call("/sip/account/create", sip_gate_id=gate, name="1001", password="p")
    assert taken == {"ret": 40021, "msg": "phone number has already exist"}
    read = await vendor.call("/sip/account/read", sip_gate_id=gate, account_id=account)
    assert read["accounts"] == [
        {
            "account_id": account,
            "gate_id": gate,
            "name": "1001",
            "password": "123457",
            "recv_audio_codec": "PCMA",
            "send_audio_codec": "PCMU",
            "bind_media_server": "box2",
            "is_default": 0,
        }
    ]
    await vendor.call(
        "/sip/account/update", account_id=account, name="1002", password="x", is_default="1"
    )
    read = await vendor.call("/sip/account/read", sip_gate_id=gate)
    assert (read["accounts"][0]["name"], read["accounts"][0]["is_default"]) == ("1002", 1)
    assert (
        await vendor.call(
            "/sip/account/update",
            account_id=account,
            name="n",
            password="p",
            send_audio_codec="mp3",
        )
    )["ret"] == 40002
    assert (await vendor.call("/sip/account/del", account_id=account))["ret"] == 0
    assert await vendor.call("/sip/account/del", account_id=account) == {
        "ret": 40022,
        "msg": "no such account_id",
    }
    assert (await vendor.call("/sip/account/read", sip_gate_id=gate, account_id=account))[
        "ret"
    ] == 40022


async def test_sip_ids_must_be_integers(vendor: VendorClient) -> None:
    """sip_gate_id is an int parameter."""
    assert (await vendor.call("/sip/gate/del", sip_gate_id="one"))["ret"] == 40002


async def test_state_dump_masks_sip_passwords(vendor: VendorClient) -> None:
    """The scenario dump never shows a SIP password."""
    gate = (await vendor.call("/sip/gate/create", name="g", url="1.1.1.1:1"))["gate_id"]
    await vendor.call("/sip/account/create", sip_gate_id=gate, name="1", password="hunter2")
    assert "hunter2" not in (await vendor.sim("GET", "/state")).text


# -- devices -------------------------------------------------------------------------------


async def call_device(vendor: VendorClient, **params: object) -> dict[str, str]:
    """Call a SIP device into ROOM (which is created)."""
    await vendor.call("/room/create", topic="t", room_id=ROOM)
    answer = await vendor.call("/device/call", room_id=ROOM, uri="sip:1001@192.168.3.104", **params)
    assert answer["msg"] == "successs"
    return dict(answer)


async def test_device_invite_answered_joins_the_room(vendor: VendorClient) -> None:
    """The invite goes calling (0) -> answered (1) and the device appears in the room."""
    call = await call_device(vendor, user_id="dev1", name="Lobby")
    status = await vendor.call("/device/get_invite_status", call_id=call["call_id"])
    assert status == {"ret": 0, "msg": "success", "invite_status": 0}
    assert (await vendor.call("/room/participate/list", room_id=ROOM))["participates"] == []
    response = await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "answered"})
    assert response.json()["invite_status"] == 1
    status = await vendor.call("/device/get_invite_status", call_id=call["call_id"])
    assert status["invite_status"] == 1
    [device] = (await vendor.call("/room/participate/list", room_id=ROOM))["participates"]
    assert (device["user_id"], device["user_name"]) == ("dev1", "Lobby")
    listing = await vendor.call("/room/list")
    assert listing["rooms"][0]["users"][0]["user_id"] == "dev1"


async def test_device_answers_by_itself_after_the_delay() -> None:
    """With invite_answer_delay_s the call is answered on a later request."""
    async with simulator(seeded_settings(invite_answer_delay_s=0.0)) as vendor:
        call = await call_device(vendor, user_id="dev1")
        status = await vendor.call("/device/get_invite_status", call_id=call["call_id"])
        assert status["invite_status"] == 1
        users = (await vendor.call("/room/participate/list", room_id=ROOM))["participates"]
        assert [u["user_id"] for u in users] == ["dev1"]


async def test_device_refused(vendor: VendorClient) -> None:
    """A refused call (2) never joins; settling it again is a 409."""
    call = await call_device(vendor)
    response = await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "refused"})
    assert response.json()["invite_status"] == 2
    assert (await vendor.call("/room/participate/list", room_id=ROOM))["participates"] == []
    again = await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "answered"})
    assert again.status_code == 409


async def test_device_call_errors(vendor: VendorClient) -> None:
    """40004 unknown room, 40031 user in room, 40032 bad uri, 40038/40039 video settings."""
    assert (await vendor.call("/device/call", room_id="x", uri="sip:1@h"))["ret"] == 40004
    await vendor.sim("POST", f"/rooms/{ROOM}/participants", {"user_id": "16"})
    present = await vendor.call("/device/call", room_id=ROOM, uri="sip:1@h", user_id="16")
    assert present == {"ret": 40031, "msg": "user is in room"}
    bad_uri = await vendor.call("/device/call", room_id=ROOM, uri="1.2.3.4")
    assert bad_uri == {"ret": 40032, "msg": "invalid address, check it correctly"}
    resolution = await vendor.call(
        "/device/call", room_id=ROOM, uri="sip:1@h", resolution_rate="1*1"
    )
    assert resolution == {"ret": 40038, "msg": "not support this video_resolution"}
    rate = await vendor.call("/device/call", room_id=ROOM, uri="sip:1@h", video_rate=9)
    assert rate["ret"] == 40038
    fps = await vendor.call("/device/call", room_id=ROOM, uri="sip:1@h", frame_rate=0)
    assert fps == {"ret": 40039, "msg": "not support this frame_rate"}


async def test_second_call_of_a_ringing_user_is_40031(vendor: VendorClient) -> None:
    """A user id being called cannot be called again."""
    await call_device(vendor, user_id="dev1")
    again = await vendor.call("/device/call", room_id=ROOM, uri="sip:1@h", user_id="dev1")
    assert again["ret"] == 40031


async def test_device_controls_change_the_streams(vendor: VendorClient) -> None:
    """mute / close turn the device's streams to "init"; unmute / open back to published."""
    call = await call_device(vendor, user_id="dev1")
    await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "answered"})
    ids = {"room_id": ROOM, "user_id": "dev1"}
    for path in ("/device/audio/mute", "/device/video/close", "/device/video/focus"):
        assert (await vendor.call(path, **ids))["ret"] == 0
    [device] = (await vendor.call("/room/participate/list", room_id=ROOM))["participates"]
    assert device["audios"][0]["status"] == "init"
    assert device["videos"][0]["status"] == "init"
    for path in ("/device/audio/unmute", "/device/video/open", "/device/video/unfocus"):
        assert (await vendor.call(path, **ids))["ret"] == 0
    [device] = (await vendor.call("/room/participate/list", room_id=ROOM))["participates"]
    assert device["audios"][0]["status"] == "published"


async def test_device_controls_errors(vendor: VendorClient) -> None:
    """40033 no invitation for the user, 40008 not (yet) in the room, 40004 unknown room."""
    call = await call_device(vendor, user_id="dev1")
    none = await vendor.call("/device/video/focus", room_id=ROOM, user_id="nobody")
    assert none == {"ret": 40033, "msg": "no invite info for this user_id"}
    ringing = await vendor.call("/device/audio/mute", room_id=ROOM, user_id="dev1")
    assert ringing == {"ret": 40008, "msg": "user not in room"}
    assert (await vendor.call("/device/audio/mute", room_id="x", user_id="dev1"))["ret"] == 40004
    assert call["user_id"] == "dev1"


async def test_device_kick_hangs_up(vendor: VendorClient) -> None:
    """kick returns call_id and user_id, removes the device and ends the call (3)."""
    call = await call_device(vendor, user_id="dev1")
    await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "answered"})
    kicked = await vendor.call("/device/kick", room_id=ROOM, user_id="dev1")
    assert kicked == {"ret": 0, "msg": "success", "call_id": call["call_id"], "user_id": "dev1"}
    assert (await vendor.call("/room/participate/list", room_id=ROOM))["participates"] == []
    status = await vendor.call("/device/get_invite_status", call_id=call["call_id"])
    assert status["invite_status"] == 3


async def test_unknown_call_id_is_40037(vendor: VendorClient) -> None:
    """get_invite_status of an unknown call answers 40037."""
    answer = await vendor.call("/device/get_invite_status", call_id="nope")
    assert answer == {"ret": 40037, "msg": "no such call record"}
