"""Every endpoint of the reference exists, checks its token and answers in the documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .vendor_client import VendorClient

SPEC = json.loads(
    (Path(__file__).parents[3] / "gateway/vendor_api/spec/endpoints.json").read_text(
        encoding="utf-8"
    )
)
ENDPOINTS = {e["path"]: e for e in SPEC["endpoints"]}
CODE_ENVELOPE = {"/room/close", "/room/participate/kick", "/room/participate/list"}
NO_TOKEN_ANSWERS = {
    "/app/get_token": {"ret": 40002, "msg": "arg access_key required"},
    "/attachment": {"ret": 10913, "msg": "fail to Attachment, Cannot find file."},
}
ROOM = "12345678980"
DEVICE_USER = "device-1"
VIDEO_ID = "u1_video0"
UPLOAD = "/opt/data/resources/logo.png"
CERT = "ab" * 32


def test_the_spec_lists_73_endpoints() -> None:
    """The copy of endpoints.json the tests read is the full reference."""
    assert len(ENDPOINTS) == 73


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
async def test_route_answers_documented_methods(vendor: VendorClient, path: str) -> None:
    """Documented methods reach the endpoint (HTTP 200); the others are 405."""
    documented = set(ENDPOINTS[path]["methods"])
    for method in ("GET", "POST"):
        response = await vendor.raw(path, method, token=None)
        expected = 200 if method in documented else 405
        assert response.status_code == expected, (method, response.text)


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
async def test_missing_token_is_refused(vendor: VendorClient, path: str) -> None:
    """Without a token the answer is 40003 (in the endpoint's envelope)."""
    method = ENDPOINTS[path]["methods"][-1]
    answer = await vendor.call(path, method, token=None)
    if path in NO_TOKEN_ANSWERS:
        assert answer == NO_TOKEN_ANSWERS[path]
    else:
        key = "code" if path in CODE_ENVELOPE else "ret"
        assert answer == {key: 40003, "msg": "access token check invalid"}


@pytest.mark.parametrize("path", sorted(set(ENDPOINTS) - set(NO_TOKEN_ANSWERS)))
async def test_wrong_token_is_refused(vendor: VendorClient, path: str) -> None:
    """A token the simulator never issued is 40003 too."""
    method = ENDPOINTS[path]["methods"][-1]
    answer = await vendor.call(path, method, token="bm90LWEtdG9rZW4=")
    key = "code" if path in CODE_ENVELOPE else "ret"
    assert answer[key] == 40003


async def build_world(vendor: VendorClient) -> dict[str, Any]:
    """A simulator in which every endpoint has something to act on; returns the ids."""
    ids: dict[str, Any] = {}
    await vendor.call("/room/create", topic="weekly", room_id=ROOM, user_id="u1")
    await vendor.call("/room/create", topic="spare", room_id="other-room")
    for user in ("u1", "u2"):
        response = await vendor.sim("POST", f"/rooms/{ROOM}/participants", {"user_id": user})
        assert response.status_code == 200
    call = await vendor.call(
        "/device/call", room_id=ROOM, uri="sip:1001@10.0.0.1", user_id=DEVICE_USER
    )
    await vendor.sim("POST", f"/invites/{call['call_id']}", {"status": "answered"})
    ids["call_id"] = call["call_id"]
    await vendor.sim("POST", f"/rooms/{ROOM}/chat", {"from_id": "u1", "message": "hello"})
    # A finished and a running mixed recording; the same for desktop recordings.
    finished = await vendor.call(
        "/room/mix_record/start", room_id=ROOM, enable_individual_record=True
    )
    await vendor.call("/room/mix_record/stop", room_id=ROOM)
    ids["record_id"] = finished["record_id"]
    await vendor.call("/room/mix_record/start", room_id=ROOM)
    await vendor.call("/room/desktop_record/start", room_id=ROOM, name="desk")
    await vendor.call("/room/desktop_record/stop", room_id=ROOM)
    await vendor.call("/room/desktop_record/start", room_id=ROOM, name="desk2")
    ids["mp4"] = vendor.state.recordings.find(finished["record_id"]).files[0].path
    web = await vendor.call("/web_record/start", url="https://example.com/", max_time_second=60)
    ids["web_record_id"] = web["record_id"]
    live = await vendor.call("/room/mix_live/start", room_id=ROOM, push_url="rtmp://live/a")
    ids["live_id"] = live["record_id"]
    await vendor.call(
        "/room/avc/start", room_id=ROOM, max_video_number=4, layout_mode=1, video_name="mix"
    )
    player = await vendor.call("/media/create", room_id=ROOM, name="player")
    ids["play_id"] = player["play_id"]
    await vendor.call("/media/play", room_id=ROOM, play_id=player["play_id"], url="/root/a.mp4")
    gate = await vendor.call("/sip/gate/create", name="gw", url="10.0.0.2:5060")
    ids["gate_id"] = gate["gate_id"]
    account = await vendor.call(
        "/sip/account/create", sip_gate_id=gate["gate_id"], name="1001", password="pw"
    )
    ids["account_id"] = account["account_id"]
    await vendor.call("/app/apply_file_permit", licence_cert=CERT)
    response = await vendor.http.post(
        "/uploadfile", data={"token": vendor.token}, files={"file": ("logo.png", b"png")}
    )
    assert response.json()["ret"] == 0
    return ids


def happy_params(ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Parameters with which each endpoint succeeds in the world of :func:`build_world`."""
    room = {"room_id": ROOM}
    device = {"room_id": ROOM, "user_id": DEVICE_USER}
    play = {"room_id": ROOM, "play_id": ids["play_id"]}
    layout = [{"video_name": "u1", "zorder": 0, "x": 0, "y": 0, "w": 1, "h": 1}]
    return {
        "/app/get_token": {"token": None, "access_key": "demo_access", "secret_key": "demo_secret"},
        "/app/get_licence_info": {},
        "/app/get_system_info": {},
        "/app/apply_file_permit": {"licence_cert": CERT},
        "/app/delete_file_permit": {"licence_cert": CERT},
        "/room/create": {"topic": "another"},
        "/room/update": room | {"topic": "renamed", "host_id": "u2"},
        "/room/room_lock": room | {"enable_lock": True},
        "/room/del": room,
        "/room/read": room,
        "/room/close": room,
        "/room/get_statistic": {"start_time": 0, "end_time": 2**40},
        "/room/list": {},
        "/room/participate/kick": room | {"user_id": "u2"},
        "/room/participate/list": room,
        "/room/get_record": room,
        "/room/get_record_list": room | {"record_start_time": 0, "record_end_time": 2**40},
        "/room/mix_record/start": {"room_id": "other-room"},
        "/room/mix_record/stop": room,
        "/room/mix_record/update_layout": room | {"videos": layout},
        "/room/mix_record/update_audio_layout": room | {"audio_mixer_users": ["u1"]},
        "/room/mix_record/get": room,
        "/web_record/start": {"url": "https://example.com/", "max_time_second": 30},
        "/web_record/stop": {"record_id": ids["web_record_id"]},
        "/web_record/find": {"record_id": ids["web_record_id"]},
        "/room/record/status": {"record_id": ids["record_id"]},
        "/room/record/get": room,
        "/room/desktop_record/start": {"room_id": "other-room", "name": "d"},
        "/room/desktop_record/stop": room,
        "/room/desktop_record/get": room,
        "/room/mix_live/start": room | {"push_url": "rtmp://live/b"},
        "/room/mix_live/update_layout": room | {"videos": layout},
        "/room/mix_live/stop": room,
        "/room/mix_live/get": room,
        "/room/avc/start": {"room_id": "other-room", "max_video_number": 4, "layout_mode": 0},
        "/room/avc/stop": room,
        "/room/avc/update_layout": room | {"layout_mode": 2, "main_video_resource_id": VIDEO_ID},
        "/room/avc/select_media": room | {"videos": layout},
        "/room/avc/set_focus_video": room | {"resource_id": VIDEO_ID},
        "/room/avc/get_avc_setting": room,
        "/media/create": room | {"name": "second"},
        "/media/play": play | {"url": "/root/b.mp4"},
        "/media/stop": play,
        "/media/pause": play,
        "/media/resume": play,
        "/media/replay": play | {"url": "/root/a.mp4"},
        "/media/get_media_info": play | {"url": "/root/a.mp4"},
        "/media/switch": play | {"url": "/root/c.mp4"},
        "/room/record/transfer": room | {"record_id": ids["record_id"]},
        "/room/del_record": room,
        "/transcode/query": room | {"record_id": ids["record_id"]},
        "/room/delete_record": {"delete_type": 0, "url": ids["mp4"]},
        "/sip/gate/create": {"name": "gw2", "url": "10.0.0.3:5060"},
        "/sip/gate/update": {
            "sip_gate_id": ids["gate_id"],
            "name": "g",
            "url": "10.0.0.9:1",
            "status": "0",
        },
        "/sip/gate/del": {"sip_gate_id": ids["gate_id"]},
        "/sip/gate/list": {},
        "/sip/account/create": {"sip_gate_id": ids["gate_id"], "name": "1002", "password": "pw"},
        "/sip/account/update": {"account_id": ids["account_id"], "name": "1003", "password": "x"},
        "/sip/account/read": {"sip_gate_id": ids["gate_id"]},
        "/sip/account/del": {"account_id": ids["account_id"]},
        "/device/call": room | {"uri": "h323:10.0.0.5"},
        "/device/kick": device,
        "/device/video/focus": device,
        "/device/video/unfocus": device,
        "/device/video/close": device,
        "/device/video/open": device,
        "/device/audio/mute": device,
        "/device/audio/unmute": device,
        "/device/get_invite_status": {"call_id": ids["call_id"]},
        "/uploadfile": {},  # multipart: see the test
        "/attachment": {"token": None, "file": ids["mp4"]},
        "/media_server/user_count": {},
        "/room/get_chat_message_log": room,
    }


def shape(value: Any) -> Any:
    """Keys and JSON types, lists reduced to their first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


# Keys whose names are data (resource ids), not fields; and the example's JSON nulls.
DYNAMIC_KEYS = {"/room/avc/get_avc_setting": "videos"}


def shape_gaps(example: Any, answer: Any, where: str = "") -> list[str]:
    """Where the answer lacks a key of the example or types a value differently."""
    if isinstance(example, dict):
        if not isinstance(answer, dict):
            return [f"{where}: {answer!r} is no object"]
        gaps = []
        for key, value in example.items():
            if key not in answer:
                gaps.append(f"{where}.{key} missing")
            elif value != "NoneType":
                gaps += shape_gaps(value, answer[key], f"{where}.{key}")
        return gaps
    if isinstance(example, list):
        if not isinstance(answer, list):
            return [f"{where}: {answer!r} is no list"]
        return shape_gaps(example[0], answer[0], f"{where}[0]") if example and answer else []
    return [] if example == answer else [f"{where}: {answer} where the example has {example}"]


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
async def test_success_has_the_documented_shape(vendor: VendorClient, path: str) -> None:
    """Each endpoint succeeds on a prepared world with the success example's keys and types."""
    ids = await build_world(vendor)
    spec = ENDPOINTS[path]
    params = happy_params(ids)[path]
    if path == "/uploadfile":
        response = await vendor.http.post(
            "/uploadfile", data={"token": vendor.token}, files={"file": ("a.mp4", b"mp4")}
        )
        answer = response.json()
    else:
        answer = await vendor.call(path, spec["methods"][-1], **params)
    assert answer.get("ret", answer.get("code", 0)) in (0, 200), answer
    example = shape(spec["success_example"])
    got = shape(answer)
    if path in DYNAMIC_KEYS:
        key = DYNAMIC_KEYS[path]
        example["data"][key] = next(iter(example["data"][key].values()))
        got["data"][key] = next(iter(got["data"][key].values()))
    assert shape_gaps(example, got) == [], answer
    # Same envelope as the example: nothing at top level the example lacks (e.g. no msg on
    # get_token, no ret/msg on get_statistic, code instead of ret on the three quirks).
    assert set(got) <= set(example) | {"failed_record_list"}, answer
