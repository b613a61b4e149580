"""The client <-> simulator case table: one success and documented errors per vendor endpoint.

Used by ``tests/integration/test_client_simulator.py``. A :class:`Case` says how to get the
simulator into the state an endpoint needs (``setup``, an async function of the real
``VendorClient`` and the scenario client), which request to send (``request``, from the setup's
context), what the documented answer must show (``check``), which parameters the simulator's
request log must have seen (``wire``) and, optionally, what the simulator's state must be
afterwards (``state``, on ``GET /_sim/state``). ``check`` and ``state`` return a bool; the
runner fails with the answer (or state) when it is false.

An :class:`ErrorCase` names the typed error and vendor code a documented failure must raise.
Codes the vendor's table does not list (40045, 40046, 40094, 40121, 40123, 11003) are
:class:`UnknownCodeError` by design. Where no request can provoke an endpoint's documented
error (parameterless endpoints), the fault layer injects exactly that code for that path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from gateway.vendor_api import VendorClient, VendorRequest
from gateway.vendor_api.endpoint import UploadFile
from gateway.vendor_api.errors import (
    AvcError,
    CommonError,
    CredentialsError,
    InvalidArgumentsError,
    InviteError,
    LicenceError,
    LiveError,
    MediaError,
    MixRecordError,
    RoomError,
    SipError,
    TokenInvalidError,
    TransferError,
    UnknownCodeError,
    UploadError,
    UserError,
    VendorAPIError,
)
from gateway.vendor_api.generated import endpoints as ep

__all__ = ["CASES", "Case", "Ctx", "ErrorCase", "scenario"]

Ctx = dict[str, Any]
Setup = Callable[[VendorClient, httpx.AsyncClient], Awaitable[Ctx]]

# Numeric, because /room/get_record_list documents room_id as an int.
ROOM = "10000000001"
OTHER_ROOM = "10000000002"
UNKNOWN_ROOM = "99999999999"
PUSH_URL = "rtmp://live.example.com/live/standup"
MP4_URL = "http://files.example.com/intro.mp4"
MP3_URL = "http://files.example.com/jingle.mp3"
GATE_URL = "sip:10.0.0.1:5060"
DEVICE_URI = "sip:1001@10.0.0.50"
CERT = "3082" + "ab" * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
UPLOAD_DIR = "/opt/data/tests"
LAYOUT = [
    {"video_name": "alice_video0", "zorder": 0, "x": 0, "y": 0, "w": 0.5, "h": 1},
    {"video_name": "bob_video0", "zorder": 1, "x": 0.5, "y": 0, "w": 0.5, "h": 1},
]


def compact(value: Any) -> str:
    """A json-string parameter as the client puts it on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ErrorCase:
    """A documented failure: ``request`` after ``setup`` raises ``raises`` with ``code``."""

    setup: Setup | None  # None: the success case's setup
    request: Callable[[Ctx], VendorRequest]
    raises: type[VendorAPIError]
    code: int
    # Not found is never transient, not even when the vendor says it with 41005.
    retryable: bool = False


@dataclass(frozen=True)
class Case:
    """One vendor endpoint: its documented success and at least one documented error."""

    path: str
    setup: Setup
    request: Callable[[Ctx], VendorRequest]
    check: Callable[[Any, Ctx], bool]
    errors: tuple[ErrorCase, ...]
    wire: Callable[[Ctx], Mapping[str, Any]] | None = None
    state: Callable[[dict[str, Any], Ctx], bool] | None = None


# -- scenario helpers ----------------------------------------------------------------------


async def scenario(sim: httpx.AsyncClient, method: str, url: str, body: Any = None) -> Any:
    """Call the simulator's scenario API and return its JSON (raising on HTTP errors)."""
    response = await sim.request(method, url, json=body)
    response.raise_for_status()
    return response.json()


def room_of(state: dict[str, Any], room_id: str = ROOM) -> dict[str, Any] | None:
    """A room of the state dump."""
    return next((r for r in state["rooms"] if r["room_id"] == room_id), None)


def participant_of(
    state: dict[str, Any], user_id: str, room_id: str = ROOM
) -> dict[str, Any] | None:
    """A participant of a room of the state dump."""
    room = room_of(state, room_id) or {"participants": []}
    return next((p for p in room["participants"] if p["user_id"] == user_id), None)


def stream_states(state: dict[str, Any], user_id: str, kind: str) -> list[str]:
    """The statuses of a participant's ``videos`` or ``audios``."""
    participant = participant_of(state, user_id) or {kind: []}
    return [s["status"] for s in participant[kind]]


def recording_of(state: dict[str, Any], record_id: str) -> dict[str, Any] | None:
    """A recording of the state dump."""
    return next((r for r in state["recordings"] if r["record_id"] == record_id), None)


def only(items: list[Any]) -> Any:
    """The single element of ``items`` (None unless there is exactly one)."""
    return items[0] if len(items) == 1 else None


def window() -> tuple[int, int]:
    """An hour either side of now, in Unix seconds."""
    now = int(time.time())
    return now - 3600, now + 3600


# -- setups ---------------------------------------------------------------------------------


async def nothing(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A fresh simulator."""
    return {}


async def created_room(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A room created through the API (not open)."""
    answer = await vc.room_create(
        ep.room.RoomCreateRequest(topic="Standup", room_id=ROOM, user_id="owner")
    )
    return {"room_id": answer.room_id}


async def open_room(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A room with a meeting in progress and nobody in it."""
    await scenario(sim, "POST", "/_sim/rooms", {"room_id": ROOM, "topic": "Standup"})
    return {"room_id": ROOM}


async def alice_in_room(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room with Alice (web, one video and one audio stream) in it."""
    ctx = await open_room(vc, sim)
    await scenario(
        sim, "POST", f"/_sim/rooms/{ROOM}/participants", {"user_id": "alice", "user_name": "Alice"}
    )
    return ctx | {"user_id": "alice", "video_id": "alice_video0"}


async def mix_running(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """Alice's room with a mixed recording running."""
    ctx = await alice_in_room(vc, sim)
    answer = await vc.start_recording(
        ep.recording.StartRecordingRequest(room_id=ROOM, name="standup")
    )
    return ctx | {"record_id": answer.record_id}


async def mix_done(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """Alice's room with a finished mixed recording (mp4 + mp3 files)."""
    ctx = await mix_running(vc, sim)
    answer = await vc.stop_recording(
        ep.recording.StopRecordingRequest(room_id=ROOM, record_id=ctx["record_id"])
    )
    by_type = {f["file_type"]: f for f in answer.data}
    return ctx | {"mp4_url": by_type["mp4"]["download_url"]}


async def desktop_running(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room with a desktop recording running."""
    ctx = await open_room(vc, sim)
    answer = await vc.start_desktop_recording(
        ep.recording.StartDesktopRecordingRequest(
            room_id=ROOM, enable_realtime_transcode=False, name="screen"
        )
    )
    return ctx | {"record_id": answer.record_id}


async def desktop_done(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room with a finished desktop recording."""
    ctx = await desktop_running(vc, sim)
    await vc.stop_desktop_recording(ep.recording.StopDesktopRecordingRequest(room_id=ROOM))
    return ctx


async def web_recording(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A web page being recorded."""
    answer = await vc.start_web_recording(
        ep.recording.StartWebRecordingRequest(url="https://example.com/board", max_time_second=60)
    )
    return {"record_id": answer.record_id}


async def live_running(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room pushing a live mix to PUSH_URL."""
    ctx = await open_room(vc, sim)
    answer = await vc.start_live(ep.live.StartLiveRequest(room_id=ROOM, push_url=PUSH_URL))
    return ctx | {"record_id": answer.record_id}


async def live_elsewhere(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """ROOM open, and another room already pushing to PUSH_URL."""
    ctx = await open_room(vc, sim)
    await scenario(sim, "POST", "/_sim/rooms", {"room_id": OTHER_ROOM})
    await vc.start_live(ep.live.StartLiveRequest(room_id=OTHER_ROOM, push_url=PUSH_URL))
    return ctx


async def avc_on(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """Alice's room with automatic AVC on (1280*720, layout 1)."""
    ctx = await alice_in_room(vc, sim)
    await vc.start_avc(
        ep.avc.StartAvcRequest(
            room_id=ROOM, enable_manual_avc=False, max_video_number=4, layout_mode=1
        )
    )
    return ctx


async def player(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room with an idle media player."""
    ctx = await open_room(vc, sim)
    answer = await vc.media_create(ep.media.MediaCreateRequest(room_id=ROOM, name="intro"))
    return ctx | {"play_id": answer.play_id}


async def playing(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The player playing MP4_URL."""
    ctx = await player(vc, sim)
    await vc.media_play(
        ep.media.MediaPlayRequest(room_id=ROOM, play_id=ctx["play_id"], url=MP4_URL)
    )
    return ctx


async def paused(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The player paused."""
    ctx = await playing(vc, sim)
    await vc.media_pause(ep.media.MediaPauseRequest(room_id=ROOM, play_id=ctx["play_id"]))
    return ctx


async def gate(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A SIP gate at GATE_URL."""
    answer = await vc.sip_gate_create(ep.sip.SipGateCreateRequest(name="pbx", url=GATE_URL))
    return {"gate_id": answer.gate_id}


async def two_gates(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """Two SIP gates; the second one's id is ``second_id``."""
    ctx = await gate(vc, sim)
    answer = await vc.sip_gate_create(
        ep.sip.SipGateCreateRequest(name="pbx2", url="sip:10.0.0.2:5060")
    )
    return ctx | {"second_id": answer.gate_id}


async def account(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """A SIP gate with account "1003"."""
    ctx = await gate(vc, sim)
    answer = await vc.sip_account_create(
        ep.sip.SipAccountCreateRequest(
            sip_gate_id=ctx["gate_id"], name="1003", password=SecretStr("pw-1003")
        )
    )
    return ctx | {"account_id": answer.account_id}


async def device_ringing(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """An open room calling a SIP device (user id "dev1"), not yet answered."""
    ctx = await open_room(vc, sim)
    answer = await vc.invite_device(
        ep.device.InviteDeviceRequest(room_id=ROOM, uri=DEVICE_URI, user_id="dev1")
    )
    return ctx | {"call_id": answer.call_id, "user_id": answer.user_id}


async def device_in_room(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The device answered and joined the room."""
    ctx = await device_ringing(vc, sim)
    await scenario(sim, "POST", f"/_sim/invites/{ctx['call_id']}", {"status": "answered"})
    return ctx


async def device_refused(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The device refused the call: invited, but not in the room."""
    ctx = await device_ringing(vc, sim)
    await scenario(sim, "POST", f"/_sim/invites/{ctx['call_id']}", {"status": "refused"})
    return ctx


async def device_video_closed(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The device in the room with its video turned off."""
    ctx = await device_in_room(vc, sim)
    await vc.device_video_close(ep.device.DeviceVideoCloseRequest(room_id=ROOM, user_id="dev1"))
    return ctx


async def device_muted(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The device in the room, muted."""
    ctx = await device_in_room(vc, sim)
    await vc.device_audio_mute(ep.device.DeviceAudioMuteRequest(room_id=ROOM, user_id="dev1"))
    return ctx


async def uploaded(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """logo.png uploaded to UPLOAD_DIR."""
    await vc.file_upload(
        ep.upload.FileUploadRequest(
            file=UploadFile(filename="logo.png", content=PNG, content_type="image/png"),
            path=UPLOAD_DIR,
        )
    )
    return {"file": f"{UPLOAD_DIR}/logo.png"}


async def licence_applied(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """CERT applied as a licence permit."""
    await vc.file_permit_apply(ep.app.FilePermitApplyRequest(licence_cert=CERT))
    return {"cert": CERT}


async def chat_logged(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """Alice said "hello" in the room's chat."""
    ctx = await alice_in_room(vc, sim)
    await scenario(
        sim,
        "POST",
        f"/_sim/rooms/{ROOM}/chat",
        {"from_id": "alice", "from_name": "Alice", "message": "hello"},
    )
    return ctx


async def media_servers_offline(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
    """The only media server (box1) is offline."""
    await scenario(sim, "PUT", "/_sim/media_servers/box1", {"online": False})
    return {}


def injected(path: str, code: int) -> Setup:
    """A setup making the simulator answer every request to ``path`` with ``code``."""

    async def setup(vc: VendorClient, sim: httpx.AsyncClient) -> Ctx:
        await scenario(
            sim, "PUT", "/_sim/faults", {"per_path": {path: {"error_rates": {str(code): 1.0}}}}
        )
        return {}

    return setup


# -- the table ------------------------------------------------------------------------------

R = ep.room
P = ep.participants
REC = ep.recording
LIVE = ep.live
AVC = ep.avc
MEDIA = ep.media
TC = ep.transcode
SIP = ep.sip
DEV = ep.device
UP = ep.upload


def _device_control(
    path: str,
    model: Callable[..., VendorRequest],
    setup: Setup,
    state: Callable[[dict[str, Any], Ctx], bool],
    error: ErrorCase,
) -> Case:
    """The six /device/video|audio/* controls share their shape."""
    return Case(
        path,
        setup,
        lambda c: model(room_id=ROOM, user_id="dev1"),
        lambda a, c: a.msg == "success",
        (
            error,
            # Invited but refused: the device is not in the room.
            ErrorCase(
                device_refused, lambda c: model(room_id=ROOM, user_id="dev1"), UserError, 40008
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "user_id": "dev1"},
        state=state,
    )


def _unknown_room(model: Callable[..., VendorRequest], **fields: Any) -> ErrorCase:
    """40004 for an unknown room id (the setup of the success case is kept)."""
    return ErrorCase(None, lambda c: model(room_id=UNKNOWN_ROOM, **fields), RoomError, 40004)


CASES: tuple[Case, ...] = (
    # -- app -------------------------------------------------------------------------------
    Case(
        "/app/get_token",
        nothing,
        lambda c: ep.app.TokenGetRequest(
            access_key=SecretStr("demo_access"), secret_key=SecretStr("demo_secret")
        ),
        lambda a, c: isinstance(a.token, str) and len(a.token) > 20,
        (
            ErrorCase(
                None,
                lambda c: ep.app.TokenGetRequest(
                    access_key=SecretStr("demo_access"), secret_key=SecretStr("wrong")
                ),
                CredentialsError,
                40001,
            ),
        ),
        wire=lambda c: {"access_key": "***", "secret_key": "***"},
    ),
    Case(
        "/app/get_licence_info",
        alice_in_room,
        lambda c: ep.app.LicenceInfoGetRequest(),
        lambda a, c: a.active_usernum == 1 and a.max_users == 500,
        (
            ErrorCase(
                injected("/app/get_licence_info", 40002),
                lambda c: ep.app.LicenceInfoGetRequest(),
                InvalidArgumentsError,
                40002,
            ),
        ),
    ),
    Case(
        "/app/get_system_info",
        nothing,
        lambda c: ep.app.SystemInfoGetRequest(),
        lambda a, c: isinstance(a.sys_info, str) and len(a.sys_info) == 256,
        (
            ErrorCase(
                injected("/app/get_system_info", 40002),
                lambda c: ep.app.SystemInfoGetRequest(),
                InvalidArgumentsError,
                40002,
            ),
        ),
    ),
    Case(
        "/app/apply_file_permit",
        nothing,
        lambda c: ep.app.FilePermitApplyRequest(licence_cert=CERT),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: ep.app.FilePermitApplyRequest(licence_cert=""),
                InvalidArgumentsError,
                40002,
            ),
        ),
        wire=lambda c: {"licence_cert": CERT},
        state=lambda s, c: s["licence"]["permits"] == 1,
    ),
    Case(
        "/app/delete_file_permit",
        licence_applied,
        lambda c: ep.app.FilePermitDeleteRequest(licence_cert=c["cert"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                nothing,
                lambda c: ep.app.FilePermitDeleteRequest(licence_cert=CERT),
                LicenceError,
                40072,
            ),
        ),
        wire=lambda c: {"licence_cert": CERT},
        state=lambda s, c: s["licence"]["permits"] == 0,
    ),
    # -- room ------------------------------------------------------------------------------
    Case(
        "/room/create",
        nothing,
        lambda c: R.RoomCreateRequest(
            topic="Weekly", room_id=ROOM, user_id="owner", enable_auto_avc=True
        ),
        lambda a, c: a.room_id == ROOM,
        (
            ErrorCase(
                created_room,
                lambda c: R.RoomCreateRequest(topic="Again", room_id=ROOM),
                RoomError,
                40005,
            ),
        ),
        wire=lambda c: {
            "topic": "Weekly",
            "room_id": ROOM,
            "user_id": "owner",
            "enable_auto_avc": "true",
        },
        state=lambda s, c: (
            (room := room_of(s)) is not None
            and room["topic"] == "Weekly"
            and room["enable_auto_avc"] is True
            and room["is_open"] is False
        ),
    ),
    Case(
        "/room/update",
        created_room,
        lambda c: R.RoomUpdateRequest(
            room_id=ROOM, topic="Retro", host_id="host1", password=SecretStr("room-pw")
        ),
        lambda a, c: a.msg == "success",
        (_unknown_room(R.RoomUpdateRequest, topic="Retro"),),
        wire=lambda c: {"room_id": ROOM, "topic": "Retro", "host_id": "host1", "password": "***"},
        state=lambda s, c: (
            (room := room_of(s)) is not None
            and room["topic"] == "Retro"
            and room["host_id"] == "host1"
            and room["has_password"] is True
        ),
    ),
    Case(
        "/room/room_lock",
        created_room,
        lambda c: R.RoomLockRequest(room_id=ROOM, enable_lock=True),
        lambda a, c: a.msg == "success",
        (_unknown_room(R.RoomLockRequest, enable_lock=True),),
        wire=lambda c: {"room_id": ROOM, "enable_lock": "true"},
        state=lambda s, c: (room := room_of(s)) is not None and room["locked"] is True,
    ),
    Case(
        "/room/del",
        created_room,
        lambda c: R.RoomDeleteRequest(room_id=ROOM),
        lambda a, c: a.msg == "success",
        (_unknown_room(R.RoomDeleteRequest),),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: room_of(s) is None,
    ),
    Case(
        "/room/read",
        created_room,
        lambda c: R.RoomReadRequest(room_id=ROOM),
        lambda a, c: a.data["topic"] == "Standup" and a.data["user_id"] == "owner",
        (_unknown_room(R.RoomReadRequest),),
        wire=lambda c: {"room_id": ROOM},
    ),
    Case(
        "/room/close",
        alice_in_room,
        lambda c: R.RoomCloseRequest(room_id=ROOM),
        # The vendor answers {"code": 200}; the client normalises it to ret 0.
        lambda a, c: a.ret == 0 and a.msg == "success",
        (
            ErrorCase(
                None, lambda c: R.RoomCloseRequest(room_id=UNKNOWN_ROOM), CommonError, 41005, False
            ),
            # Created but never opened: "room not found or opened".
            ErrorCase(
                created_room, lambda c: R.RoomCloseRequest(room_id=ROOM), CommonError, 41005, False
            ),
            ErrorCase(None, lambda c: R.RoomCloseRequest(room_id=""), InvalidArgumentsError, 40002),
        ),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: (
            (room := room_of(s)) is not None
            and room["is_open"] is False
            and room["participants"] == []
        ),
    ),
    Case(
        "/room/get_statistic",
        alice_in_room,
        lambda c: R.RoomStatisticGetRequest(
            start_time=window()[0], end_time=window()[1], room_id=ROOM
        ),
        # The documented success has neither ret nor msg.
        lambda a, c: a.meeting_total == 1 and a.user_cnt == 1 and a.web_cnt == 1,
        (
            _unknown_room(R.RoomStatisticGetRequest, start_time=0, end_time=1),
            ErrorCase(
                None,
                lambda c: R.RoomStatisticGetRequest(start_time=200, end_time=100),
                InvalidArgumentsError,
                40002,
            ),
        ),
        wire=lambda c: {"room_id": ROOM},
    ),
    Case(
        "/room/list",
        alice_in_room,
        lambda c: R.RoomListRequest(),
        lambda a, c: (
            a.room_count == 1
            and a.user_count == 1
            and a.rooms[0]["room_id"] == ROOM
            and [u["user_id"] for u in a.rooms[0]["users"]] == ["alice"]
        ),
        (
            ErrorCase(
                injected("/room/list", 40094),
                lambda c: R.RoomListRequest(),
                UnknownCodeError,
                40094,
            ),
        ),
    ),
    # -- participants ------------------------------------------------------------------------
    Case(
        "/room/participate/kick",
        alice_in_room,
        lambda c: P.ParticipantKickRequest(room_id=ROOM, user_id="alice"),
        lambda a, c: a.ret == 0,
        (
            _unknown_room(P.ParticipantKickRequest, user_id="alice"),
            ErrorCase(
                None,
                lambda c: P.ParticipantKickRequest(room_id=ROOM, user_id="nobody"),
                UserError,
                40008,
            ),
            ErrorCase(
                created_room,
                lambda c: P.ParticipantKickRequest(room_id=ROOM, user_id="alice"),
                UserError,
                40009,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "user_id": "alice"},
        state=lambda s, c: participant_of(s, "alice") is None,
    ),
    Case(
        "/room/participate/list",
        alice_in_room,
        lambda c: P.ParticipantListRequest(room_id=ROOM),
        lambda a, c: (
            (alice := only(a.participates)) is not None
            and alice["user_id"] == "alice"
            and alice["videos"][0]["id"] == "alice_video0"
            and alice["audios"][0]["status"] == "published"
        ),
        (
            ErrorCase(
                None,
                lambda c: P.ParticipantListRequest(room_id=UNKNOWN_ROOM),
                CommonError,
                41005,
                False,
            ),
        ),
        wire=lambda c: {"room_id": ROOM},
    ),
    # -- recording -------------------------------------------------------------------------
    Case(
        "/room/get_record",
        mix_done,
        lambda c: REC.RecordGetRequest(room_id=ROOM, record_id=c["record_id"]),
        lambda a, c: (
            (rec := only(a.record_files)) is not None
            and rec["record_id"] == c["record_id"]
            and rec["room_id"] == ROOM
            and "/attachment?file=" in rec["down_url"]
            and len(rec["transcode_files"]["down_url"]) == 2
        ),
        (
            ErrorCase(
                None,
                lambda c: REC.RecordGetRequest(room_id=ROOM, exporter_type=5),
                InvalidArgumentsError,
                40002,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "record_id": c["record_id"]},
    ),
    Case(
        "/room/get_record_list",
        mix_done,
        lambda c: REC.RecordListRequest(
            room_id=ROOM, record_start_time=window()[0], record_end_time=window()[1], pagesize=5
        ),
        lambda a, c: (
            (rec := only(a.data)) is not None
            and rec["room_id"] == ROOM
            and rec["file_type"] == "tms"
        ),
        (
            # room_id is documented as an int.
            ErrorCase(
                None,
                lambda c: REC.RecordListRequest(
                    room_id="standup", record_start_time=0, record_end_time=1
                ),
                InvalidArgumentsError,
                40002,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "pagesize": "5"},
    ),
    Case(
        "/room/mix_record/start",
        alice_in_room,
        lambda c: REC.StartRecordingRequest(
            room_id=ROOM,
            name="standup",
            enable_audio_record=True,
            videos=LAYOUT,
            audio_mixer_users=["alice"],
        ),
        lambda a, c: isinstance(a.record_id, str) and len(a.record_id) == 32,
        (
            ErrorCase(
                mix_running,
                lambda c: REC.StartRecordingRequest(room_id=ROOM),
                MixRecordError,
                40040,
            ),
            _unknown_room(REC.StartRecordingRequest),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "name": "standup",
            "enable_audio_record": "true",
            "videos": compact(LAYOUT),
            "audio_mixer_users": '["alice"]',
        },
        state=lambda s, c: (
            (rec := only(s["recordings"])) is not None
            and rec["running"] is True
            and rec["videos"] == LAYOUT
            and rec["audio_mixer_users"] == ["alice"]
        ),
    ),
    Case(
        "/room/mix_record/stop",
        mix_running,
        lambda c: REC.StopRecordingRequest(room_id=ROOM, record_id=c["record_id"]),
        lambda a, c: (
            {f["file_type"] for f in a.data} == {"mp4", "mp3"}
            and all("/attachment?file=" in f["download_url"] for f in a.data)
        ),
        (
            ErrorCase(
                alice_in_room,
                lambda c: REC.StopRecordingRequest(room_id=ROOM),
                MixRecordError,
                40041,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "record_id": c["record_id"]},
        state=lambda s, c: (
            (rec := recording_of(s, c["record_id"])) is not None and rec["running"] is False
        ),
    ),
    Case(
        "/room/mix_record/update_layout",
        mix_running,
        lambda c: REC.UpdateRecordingLayoutRequest(
            room_id=ROOM, videos=LAYOUT[:1], record_id=c["record_id"]
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                alice_in_room,
                lambda c: REC.UpdateRecordingLayoutRequest(room_id=ROOM, videos=LAYOUT),
                MixRecordError,
                40041,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "videos": compact(LAYOUT[:1])},
        state=lambda s, c: (
            (rec := recording_of(s, c["record_id"])) is not None and rec["videos"] == LAYOUT[:1]
        ),
    ),
    Case(
        "/room/mix_record/update_audio_layout",
        mix_running,
        lambda c: REC.UpdateRecordingAudioLayoutRequest(
            room_id=ROOM, audio_mixer_users=[{"user_id": "alice", "channel": 1}]
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                alice_in_room,
                lambda c: REC.UpdateRecordingAudioLayoutRequest(
                    room_id=ROOM, audio_mixer_users=["alice"]
                ),
                MixRecordError,
                40041,
            ),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "audio_mixer_users": '[{"user_id":"alice","channel":1}]',
        },
        state=lambda s, c: (
            (rec := recording_of(s, c["record_id"])) is not None
            and rec["audio_mixer_users"] == [{"user_id": "alice", "channel": 1}]
        ),
    ),
    Case(
        "/room/mix_record/get",
        mix_done,
        lambda c: REC.RecordingGetRequest(room_id=ROOM),
        lambda a, c: (
            (rec := only(a.data)) is not None
            and rec["record_id"] == c["record_id"]
            and rec["name"] == "standup"
            and rec["download_url"].endswith(".tms")
            and len(rec["transcode_files"]) == 2
        ),
        (_unknown_room(REC.RecordingGetRequest),),
        wire=lambda c: {"room_id": ROOM},
    ),
    Case(
        "/web_record/start",
        nothing,
        lambda c: REC.StartWebRecordingRequest(
            url="https://example.com/board", max_time_second=60, width=1920, height=1080
        ),
        lambda a, c: isinstance(a.record_id, str) and len(a.record_id) == 36,
        (
            ErrorCase(
                None,
                lambda c: REC.StartWebRecordingRequest(url="ftp://example.com", max_time_second=60),
                UnknownCodeError,
                40121,
            ),
        ),
        wire=lambda c: {
            "url": "https://example.com/board",
            "max_time_second": "60",
            "width": "1920",
            "height": "1080",
        },
    ),
    Case(
        "/web_record/stop",
        web_recording,
        lambda c: REC.StopWebRecordingRequest(record_id=c["record_id"]),
        lambda a, c: (
            a.record_id == c["record_id"]
            and "/attachment?file=" in a.download_url
            and a.filepath.endswith(".mp4")
        ),
        (
            # "grpc ... not found record info!" comes as the common group's 41005.
            ErrorCase(
                None,
                lambda c: REC.StopWebRecordingRequest(record_id="no-such-record"),
                CommonError,
                41005,
                False,
            ),
        ),
        wire=lambda c: {"record_id": c["record_id"]},
    ),
    Case(
        "/web_record/find",
        web_recording,
        lambda c: REC.WebRecordingFindRequest(record_id=c["record_id"]),
        lambda a, c: (
            (info := only(a.infos)) is not None
            and info["record_id"] == c["record_id"]
            and info["url"] == "https://example.com/board"
        ),
        (
            ErrorCase(
                None,
                lambda c: REC.WebRecordingFindRequest(record_id="no-such-record"),
                UnknownCodeError,
                40123,
            ),
        ),
        wire=lambda c: {"record_id": c["record_id"]},
    ),
    Case(
        "/room/record/status",
        mix_running,
        lambda c: REC.RecordStatusGetRequest(record_id=c["record_id"]),
        lambda a, c: a.record_status == 1,
        (
            ErrorCase(
                None,
                lambda c: REC.RecordStatusGetRequest(record_id="0" * 32),
                TransferError,
                40090,
            ),
        ),
        wire=lambda c: {"record_id": c["record_id"]},
    ),
    Case(
        "/room/record/get",
        mix_done,
        lambda c: REC.AudioRecordGetRequest(room_id=ROOM),
        lambda a, c: (
            (mp3 := only(a.data)) is not None
            and mp3["file_type"] == "mp3"
            and mp3["room_id"] == ROOM
            and "/attachment?file=" in mp3["download_url"]
        ),
        (
            ErrorCase(
                None, lambda c: REC.AudioRecordGetRequest(room_id=""), InvalidArgumentsError, 40002
            ),
            _unknown_room(REC.AudioRecordGetRequest),
        ),
        wire=lambda c: {"room_id": ROOM},
    ),
    Case(
        "/room/desktop_record/start",
        open_room,
        lambda c: REC.StartDesktopRecordingRequest(
            room_id=ROOM, enable_realtime_transcode=False, name="screen"
        ),
        lambda a, c: isinstance(a.record_id, str) and len(a.record_id) == 32,
        (
            ErrorCase(
                desktop_running,
                lambda c: REC.StartDesktopRecordingRequest(
                    room_id=ROOM, enable_realtime_transcode=False, name="again"
                ),
                MixRecordError,
                40040,
            ),
            _unknown_room(
                REC.StartDesktopRecordingRequest, enable_realtime_transcode=False, name="x"
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "enable_realtime_transcode": "false", "name": "screen"},
    ),
    Case(
        "/room/desktop_record/stop",
        desktop_running,
        lambda c: REC.StopDesktopRecordingRequest(room_id=ROOM),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                open_room,
                lambda c: REC.StopDesktopRecordingRequest(room_id=ROOM),
                MixRecordError,
                40041,
            ),
        ),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: (
            (rec := recording_of(s, c["record_id"])) is not None and rec["running"] is False
        ),
    ),
    Case(
        "/room/desktop_record/get",
        desktop_done,
        lambda c: REC.DesktopRecordingGetRequest(room_id=ROOM, name="screen"),
        lambda a, c: (
            (f := only(a.data)) is not None
            and f["name"] == "screen"
            and f["file_type"] == "mp4"
            and "/attachment?file=" in f["download_url"]
        ),
        (_unknown_room(REC.DesktopRecordingGetRequest),),
        wire=lambda c: {"room_id": ROOM, "name": "screen"},
    ),
    # -- live ------------------------------------------------------------------------------
    Case(
        "/room/mix_live/start",
        open_room,
        lambda c: LIVE.StartLiveRequest(room_id=ROOM, push_url=PUSH_URL, videos=LAYOUT),
        lambda a, c: isinstance(a.record_id, str) and len(a.record_id) == 32,
        (
            ErrorCase(
                live_running,
                lambda c: LIVE.StartLiveRequest(room_id=ROOM, push_url=PUSH_URL),
                MixRecordError,
                40040,
            ),
            ErrorCase(
                live_elsewhere,
                lambda c: LIVE.StartLiveRequest(room_id=ROOM, push_url=PUSH_URL),
                LiveError,
                40060,
            ),
            _unknown_room(LIVE.StartLiveRequest, push_url=PUSH_URL),
        ),
        wire=lambda c: {"room_id": ROOM, "push_url": PUSH_URL, "videos": compact(LAYOUT)},
        state=lambda s, c: (
            (live := only(s["lives"])) is not None
            and live["push_url"] == PUSH_URL
            and live["videos"] == LAYOUT
        ),
    ),
    Case(
        "/room/mix_live/update_layout",
        live_running,
        lambda c: LIVE.UpdateLiveLayoutRequest(
            room_id=ROOM, videos=LAYOUT, record_id=c["record_id"]
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                open_room,
                lambda c: LIVE.UpdateLiveLayoutRequest(room_id=ROOM, videos=LAYOUT),
                MixRecordError,
                40041,
            ),
            ErrorCase(
                None,
                lambda c: LIVE.UpdateLiveLayoutRequest(
                    room_id=ROOM, videos=LAYOUT, record_id="0" * 32
                ),
                LiveError,
                40061,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "videos": compact(LAYOUT), "record_id": c["record_id"]},
        state=lambda s, c: (live := only(s["lives"])) is not None and live["videos"] == LAYOUT,
    ),
    Case(
        "/room/mix_live/stop",
        live_running,
        lambda c: LIVE.StopLiveRequest(room_id=ROOM),
        lambda a, c: a.msg == "success" and not a.failed_record_list,
        (
            ErrorCase(
                open_room, lambda c: LIVE.StopLiveRequest(room_id=ROOM), MixRecordError, 40041
            ),
            ErrorCase(
                None,
                lambda c: LIVE.StopLiveRequest(room_id=ROOM, record_id="0" * 32),
                UnknownCodeError,
                40046,
            ),
            ErrorCase(
                None,
                lambda c: LIVE.StopLiveRequest(record_id=f"{'0' * 32},{'1' * 32}"),
                LiveError,
                40065,
            ),
        ),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: s["lives"] == [],
    ),
    Case(
        "/room/mix_live/get",
        live_running,
        lambda c: LIVE.LiveGetRequest(room_id=ROOM),
        lambda a, c: (
            (live := only(a.data)) is not None
            and live["record_id"] == c["record_id"]
            and live["push_url"] == PUSH_URL
        ),
        (ErrorCase(open_room, lambda c: LIVE.LiveGetRequest(room_id=ROOM), MixRecordError, 40041),),
        wire=lambda c: {"room_id": ROOM},
    ),
    # -- avc -------------------------------------------------------------------------------
    Case(
        "/room/avc/start",
        alice_in_room,
        lambda c: AVC.StartAvcRequest(
            room_id=ROOM,
            enable_manual_avc=True,
            max_video_number=4,
            layout_mode=2,
            video_resolution="1920*1080",
        ),
        lambda a, c: a.msg == "success",
        (
            _unknown_room(
                AVC.StartAvcRequest, enable_manual_avc=False, max_video_number=4, layout_mode=1
            ),
            ErrorCase(
                avc_on,
                lambda c: AVC.StartAvcRequest(
                    room_id=ROOM, enable_manual_avc=False, max_video_number=4, layout_mode=1
                ),
                AvcError,
                40050,
            ),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "enable_manual_avc": "true",
            "max_video_number": "4",
            "layout_mode": "2",
            "video_resolution": "1920*1080",
        },
        state=lambda s, c: (
            (avc := only(s["avc"])) is not None
            and avc["manual"] is True
            and avc["layout_mode"] == 2
        ),
    ),
    Case(
        "/room/avc/stop",
        avc_on,
        lambda c: AVC.StopAvcRequest(room_id=ROOM),
        lambda a, c: a.msg == "success",
        (
            _unknown_room(AVC.StopAvcRequest),
            ErrorCase(alice_in_room, lambda c: AVC.StopAvcRequest(room_id=ROOM), AvcError, 40051),
        ),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: s["avc"] == [],
    ),
    Case(
        "/room/avc/update_layout",
        avc_on,
        lambda c: AVC.UpdateAvcLayoutRequest(
            room_id=ROOM, main_video_resource_id="alice_video0", layout_mode=2
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: AVC.UpdateAvcLayoutRequest(
                    room_id=ROOM, main_video_resource_id="ghost_video0"
                ),
                UnknownCodeError,
                40045,
            ),
            ErrorCase(
                alice_in_room,
                lambda c: AVC.UpdateAvcLayoutRequest(room_id=ROOM, layout_mode=2),
                AvcError,
                40051,
            ),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "main_video_resource_id": "alice_video0",
            "layout_mode": "2",
        },
        state=lambda s, c: (
            (avc := only(s["avc"])) is not None
            and avc["main_video_resource_id"] == "alice_video0"
            and avc["layout_mode"] == 2
        ),
    ),
    Case(
        "/room/avc/select_media",
        avc_on,
        lambda c: AVC.AvcSelectMediaRequest(room_id=ROOM, videos=LAYOUT),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                alice_in_room,
                lambda c: AVC.AvcSelectMediaRequest(room_id=ROOM, videos=LAYOUT),
                AvcError,
                40051,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "videos": compact(LAYOUT)},
        state=lambda s, c: (
            (avc := only(s["avc"])) is not None
            and set(avc["videos"]) == {"alice_video0", "bob_video0"}
        ),
    ),
    Case(
        "/room/avc/set_focus_video",
        avc_on,
        lambda c: AVC.AvcSetFocusVideoRequest(room_id=ROOM, resource_id="alice_video0"),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: AVC.AvcSetFocusVideoRequest(room_id=ROOM, resource_id="ghost_video0"),
                UnknownCodeError,
                40045,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "resource_id": "alice_video0"},
        state=lambda s, c: (
            (avc := only(s["avc"])) is not None and avc["focus_resource_id"] == "alice_video0"
        ),
    ),
    Case(
        "/room/avc/get_avc_setting",
        avc_on,
        lambda c: AVC.AvcSettingGetRequest(room_id=ROOM),
        lambda a, c: (
            a.data["room_id"] == ROOM
            and a.data["view_width"] == 1280
            and a.data["view_height"] == 720
            and a.data["layoutMode"] == "Outgoing_View_Layout_Auto_Orato"
            and "alice_video0" in a.data["videos"]
        ),
        (
            ErrorCase(
                alice_in_room, lambda c: AVC.AvcSettingGetRequest(room_id=ROOM), AvcError, 40051
            ),
        ),
        wire=lambda c: {"room_id": ROOM},
    ),
    # -- media -----------------------------------------------------------------------------
    Case(
        "/media/create",
        open_room,
        lambda c: MEDIA.MediaCreateRequest(
            room_id=ROOM, name="intro", user_id="player1", player_out_audio_codec="opus"
        ),
        lambda a, c: isinstance(a.play_id, str) and len(a.play_id) == 36,
        (
            ErrorCase(
                player,
                lambda c: MEDIA.MediaCreateRequest(room_id=ROOM, name="intro"),
                MediaError,
                40080,
            ),
            _unknown_room(MEDIA.MediaCreateRequest, name="intro"),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "name": "intro",
            "user_id": "player1",
            "player_out_audio_codec": "opus",
        },
        state=lambda s, c: (p := only(s["media"])) is not None and p["user_id"] == "player1",
    ),
    Case(
        "/media/play",
        player,
        lambda c: MEDIA.MediaPlayRequest(
            room_id=ROOM, play_id=c["play_id"], url=MP4_URL, replay_times=2
        ),
        lambda a, c: (
            a.data["has_video"] == 1 and a.data["has_audio"] == 1 and a.data["duration"] > 0
        ),
        (
            ErrorCase(
                None,
                lambda c: MEDIA.MediaPlayRequest(
                    room_id=ROOM, play_id="no-such-player", url=MP4_URL
                ),
                MediaError,
                40081,
            ),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "play_id": c["play_id"],
            "url": MP4_URL,
            "replay_times": "2",
        },
        state=lambda s, c: (p := only(s["media"])) is not None and p["status"] == 1,
    ),
    Case(
        "/media/stop",
        playing,
        lambda c: MEDIA.MediaStopRequest(room_id=ROOM, play_id=c["play_id"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: MEDIA.MediaStopRequest(room_id=ROOM, play_id="no-such-player"),
                MediaError,
                40081,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"]},
        state=lambda s, c: s["media"] == [],
    ),
    Case(
        "/media/pause",
        playing,
        lambda c: MEDIA.MediaPauseRequest(room_id=ROOM, play_id=c["play_id"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                player,
                lambda c: MEDIA.MediaPauseRequest(room_id=ROOM, play_id=c["play_id"]),
                MediaError,
                40084,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"]},
        state=lambda s, c: (p := only(s["media"])) is not None and p["status"] == 2,
    ),
    Case(
        "/media/resume",
        paused,
        lambda c: MEDIA.MediaResumeRequest(room_id=ROOM, play_id=c["play_id"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                player,
                lambda c: MEDIA.MediaResumeRequest(room_id=ROOM, play_id=c["play_id"]),
                MediaError,
                40084,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"]},
        state=lambda s, c: (p := only(s["media"])) is not None and p["status"] == 1,
    ),
    Case(
        "/media/replay",
        playing,
        lambda c: MEDIA.MediaReplayRequest(room_id=ROOM, play_id=c["play_id"], url=MP4_URL),
        lambda a, c: a.data["has_video"] == 1 and a.data["width"] == "960",
        (
            ErrorCase(
                None,
                lambda c: MEDIA.MediaReplayRequest(
                    room_id=ROOM, play_id="no-such-player", url=MP4_URL
                ),
                MediaError,
                40081,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"], "url": MP4_URL},
        state=lambda s, c: (
            (p := only(s["media"])) is not None and p["play_files"][0]["play_count"] == 2
        ),
    ),
    Case(
        "/media/get_media_info",
        playing,
        lambda c: MEDIA.MediaInfoGetRequest(room_id=ROOM, play_id=c["play_id"], url=MP4_URL),
        lambda a, c: (
            (p := only(a.data)) is not None
            and p["play_id"] == c["play_id"]
            and p["room_id"] == ROOM
            and p["play_files"][0]["url"] == MP4_URL
        ),
        (
            ErrorCase(
                None,
                lambda c: MEDIA.MediaInfoGetRequest(
                    room_id=ROOM, play_id=c["play_id"], url=MP3_URL
                ),
                MediaError,
                40084,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"], "url": MP4_URL},
    ),
    Case(
        "/media/switch",
        playing,
        lambda c: MEDIA.MediaSwitchRequest(room_id=ROOM, play_id=c["play_id"], url=MP3_URL),
        lambda a, c: a.data["has_video"] == 0 and a.data["has_audio"] == 1,
        (
            ErrorCase(
                None,
                lambda c: MEDIA.MediaSwitchRequest(
                    room_id=ROOM, play_id="no-such-player", url=MP3_URL
                ),
                MediaError,
                40081,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "play_id": c["play_id"], "url": MP3_URL},
        state=lambda s, c: (p := only(s["media"])) is not None and len(p["play_files"]) == 2,
    ),
    # -- transcode / recording files -------------------------------------------------------
    Case(
        "/room/record/transfer",
        mix_done,
        lambda c: TC.RecordTransferRequest(room_id=ROOM, record_id=c["record_id"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: TC.RecordTransferRequest(room_id=ROOM, record_id="0" * 32),
                TransferError,
                40090,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "record_id": c["record_id"]},
    ),
    Case(
        "/room/del_record",
        mix_done,
        lambda c: TC.RoomRecordsDeleteRequest(room_id=ROOM),
        lambda a, c: a.msg == "success",
        (_unknown_room(TC.RoomRecordsDeleteRequest),),
        wire=lambda c: {"room_id": ROOM},
        state=lambda s, c: s["recordings"] == [],
    ),
    Case(
        "/transcode/query",
        mix_done,
        lambda c: TC.TranscodeQueryRequest(room_id=ROOM, record_id=c["record_id"]),
        lambda a, c: a.status == 3,
        (
            ErrorCase(
                None,
                lambda c: TC.TranscodeQueryRequest(room_id=ROOM, record_id="0" * 32),
                TransferError,
                40090,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "record_id": c["record_id"]},
    ),
    Case(
        "/room/delete_record",
        mix_done,
        lambda c: TC.RecordFileDeleteRequest(delete_type=0, url=c["mp4_url"]),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: TC.RecordFileDeleteRequest(delete_type=0, url="/no/such/file.mp4"),
                UnknownCodeError,
                40094,
            ),
        ),
        wire=lambda c: {"delete_type": "0", "url": c["mp4_url"]},
        state=lambda s, c: (
            (rec := recording_of(s, c["record_id"])) is not None
            and all(not f.endswith(".mp4") for f in rec["files"])
        ),
    ),
    # -- sip -------------------------------------------------------------------------------
    Case(
        "/sip/gate/create",
        nothing,
        lambda c: SIP.SipGateCreateRequest(name="pbx", url=GATE_URL),
        lambda a, c: isinstance(a.gate_id, int) and a.name == "pbx" and a.url == GATE_URL,
        (
            ErrorCase(
                gate,
                lambda c: SIP.SipGateCreateRequest(name="pbx-again", url=GATE_URL),
                SipError,
                40019,
            ),
        ),
        wire=lambda c: {"name": "pbx", "url": GATE_URL},
    ),
    Case(
        "/sip/gate/update",
        gate,
        lambda c: SIP.SipGateUpdateRequest(
            sip_gate_id=c["gate_id"], name="pbx-new", url="sip:10.0.0.9:5060", status="0"
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                two_gates,
                lambda c: SIP.SipGateUpdateRequest(
                    sip_gate_id=c["second_id"], name="pbx2", url=GATE_URL, status="1"
                ),
                SipError,
                40019,
            ),
            ErrorCase(
                None,
                lambda c: SIP.SipGateUpdateRequest(
                    sip_gate_id=999, name="x", url="sip:10.0.0.9", status="1"
                ),
                SipError,
                40020,
            ),
        ),
        wire=lambda c: {
            "sip_gate_id": str(c["gate_id"]),
            "name": "pbx-new",
            "url": "sip:10.0.0.9:5060",
            "status": "0",
        },
        state=lambda s, c: (
            s["sip"]["gates"]
            == [{"id": c["gate_id"], "name": "pbx-new", "status": "0", "url": "sip:10.0.0.9:5060"}]
        ),
    ),
    Case(
        "/sip/gate/del",
        account,
        lambda c: SIP.SipGateDeleteRequest(sip_gate_id=c["gate_id"]),
        lambda a, c: a.msg == "success",
        (ErrorCase(None, lambda c: SIP.SipGateDeleteRequest(sip_gate_id=999), SipError, 40020),),
        wire=lambda c: {"sip_gate_id": str(c["gate_id"])},
        state=lambda s, c: s["sip"] == {"gates": [], "accounts": []},
    ),
    Case(
        "/sip/gate/list",
        gate,
        lambda c: SIP.SipGateListRequest(),
        lambda a, c: [(g["id"], g["url"]) for g in a.sip_gates] == [(c["gate_id"], GATE_URL)],
        (
            # The documented error is 40003: the client refreshes the token once, then gives up.
            ErrorCase(
                injected("/sip/gate/list", 40003),
                lambda c: SIP.SipGateListRequest(),
                TokenInvalidError,
                40003,
            ),
        ),
    ),
    Case(
        "/sip/account/create",
        gate,
        lambda c: SIP.SipAccountCreateRequest(
            sip_gate_id=c["gate_id"],
            name="1003",
            password=SecretStr("pw-1003"),
            recv_audio_codec="PCMA",
            is_default="1",
        ),
        lambda a, c: (
            isinstance(a.account_id, int) and a.name == "1003" and a.sip_gate_id == c["gate_id"]
        ),
        (
            ErrorCase(
                None,
                lambda c: SIP.SipAccountCreateRequest(
                    sip_gate_id=999, name="1003", password=SecretStr("pw")
                ),
                SipError,
                40020,
            ),
            ErrorCase(
                account,
                lambda c: SIP.SipAccountCreateRequest(
                    sip_gate_id=c["gate_id"], name="1003", password=SecretStr("pw")
                ),
                SipError,
                40021,
            ),
        ),
        wire=lambda c: {
            "sip_gate_id": str(c["gate_id"]),
            "name": "1003",
            "password": "***",
            "recv_audio_codec": "PCMA",
            "is_default": "1",
        },
    ),
    Case(
        "/sip/account/update",
        account,
        lambda c: SIP.SipAccountUpdateRequest(
            account_id=c["account_id"],
            name="1004",
            password=SecretStr("pw-1004"),
            send_audio_codec="opus",
        ),
        lambda a, c: a.msg == "success",
        (
            ErrorCase(
                None,
                lambda c: SIP.SipAccountUpdateRequest(
                    account_id=999, name="1004", password=SecretStr("pw")
                ),
                SipError,
                40022,
            ),
        ),
        wire=lambda c: {
            "account_id": str(c["account_id"]),
            "name": "1004",
            "password": "***",
            "send_audio_codec": "opus",
        },
        state=lambda s, c: (
            (acc := only(s["sip"]["accounts"])) is not None
            and acc["name"] == "1004"
            and acc["send_audio_codec"] == "opus"
        ),
    ),
    Case(
        "/sip/account/read",
        account,
        lambda c: SIP.SipAccountReadRequest(sip_gate_id=c["gate_id"], account_id=c["account_id"]),
        lambda a, c: (
            (acc := only(a.accounts)) is not None
            and acc["account_id"] == c["account_id"]
            and acc["gate_id"] == c["gate_id"]
            and acc["name"] == "1003"
        ),
        (
            ErrorCase(
                None,
                lambda c: SIP.SipAccountReadRequest(sip_gate_id=c["gate_id"], account_id=999),
                SipError,
                40022,
            ),
            ErrorCase(None, lambda c: SIP.SipAccountReadRequest(sip_gate_id=999), SipError, 40020),
        ),
        wire=lambda c: {"sip_gate_id": str(c["gate_id"]), "account_id": str(c["account_id"])},
    ),
    Case(
        "/sip/account/del",
        account,
        lambda c: SIP.SipAccountDeleteRequest(account_id=c["account_id"]),
        lambda a, c: a.msg == "success",
        (ErrorCase(None, lambda c: SIP.SipAccountDeleteRequest(account_id=999), SipError, 40022),),
        wire=lambda c: {"account_id": str(c["account_id"])},
        state=lambda s, c: s["sip"]["accounts"] == [],
    ),
    # -- device ----------------------------------------------------------------------------
    Case(
        "/device/call",
        open_room,
        lambda c: DEV.InviteDeviceRequest(
            room_id=ROOM, uri=DEVICE_URI, user_id="dev1", name="Lobby", frame_rate=30
        ),
        # The vendor spells this success "successs".
        lambda a, c: isinstance(a.call_id, str) and a.user_id == "dev1",
        (
            _unknown_room(DEV.InviteDeviceRequest, uri=DEVICE_URI),
            ErrorCase(
                None,
                lambda c: DEV.InviteDeviceRequest(room_id=ROOM, uri="http://not-a-sip-uri"),
                InviteError,
                40032,
            ),
            ErrorCase(
                None,
                lambda c: DEV.InviteDeviceRequest(room_id=ROOM, uri=DEVICE_URI, frame_rate=120),
                InviteError,
                40039,
            ),
        ),
        wire=lambda c: {
            "room_id": ROOM,
            "uri": DEVICE_URI,
            "user_id": "dev1",
            "name": "Lobby",
            "frame_rate": "30",
        },
        state=lambda s, c: (
            (call := only(s["device_calls"])) is not None
            and call["user_id"] == "dev1"
            and call["uri"] == DEVICE_URI
            and call["name"] == "Lobby"
        ),
    ),
    Case(
        "/device/kick",
        device_in_room,
        lambda c: DEV.KickDeviceRequest(room_id=ROOM, user_id="dev1"),
        lambda a, c: a.call_id == c["call_id"] and a.user_id == "dev1",
        (
            _unknown_room(DEV.KickDeviceRequest, user_id="dev1"),
            ErrorCase(
                None,
                lambda c: DEV.KickDeviceRequest(room_id=ROOM, user_id="nobody"),
                InviteError,
                40033,
            ),
        ),
        wire=lambda c: {"room_id": ROOM, "user_id": "dev1"},
        state=lambda s, c: (
            participant_of(s, "dev1") is None and s["device_calls"][0]["invite_status"] == 3
        ),
    ),
    _device_control(
        "/device/video/focus",
        DEV.DeviceVideoFocusRequest,
        device_in_room,
        lambda s, c: s["device_calls"][0]["focused"] is True,
        ErrorCase(
            None,
            lambda c: DEV.DeviceVideoFocusRequest(room_id=ROOM, user_id="nobody"),
            InviteError,
            40033,
        ),
    ),
    _device_control(
        "/device/video/unfocus",
        DEV.DeviceVideoUnfocusRequest,
        device_in_room,
        lambda s, c: s["device_calls"][0]["focused"] is False,
        ErrorCase(
            None,
            lambda c: DEV.DeviceVideoUnfocusRequest(room_id=ROOM, user_id="nobody"),
            InviteError,
            40033,
        ),
    ),
    _device_control(
        "/device/video/close",
        DEV.DeviceVideoCloseRequest,
        device_in_room,
        lambda s, c: stream_states(s, "dev1", "videos") == ["init"],
        _unknown_room(DEV.DeviceVideoCloseRequest, user_id="dev1"),
    ),
    _device_control(
        "/device/video/open",
        DEV.DeviceVideoOpenRequest,
        device_video_closed,
        lambda s, c: stream_states(s, "dev1", "videos") == ["published"],
        _unknown_room(DEV.DeviceVideoOpenRequest, user_id="dev1"),
    ),
    _device_control(
        "/device/audio/mute",
        DEV.DeviceAudioMuteRequest,
        device_in_room,
        lambda s, c: stream_states(s, "dev1", "audios") == ["init"],
        _unknown_room(DEV.DeviceAudioMuteRequest, user_id="dev1"),
    ),
    _device_control(
        "/device/audio/unmute",
        DEV.DeviceAudioUnmuteRequest,
        device_muted,
        lambda s, c: stream_states(s, "dev1", "audios") == ["published"],
        _unknown_room(DEV.DeviceAudioUnmuteRequest, user_id="dev1"),
    ),
    Case(
        "/device/get_invite_status",
        device_in_room,
        lambda c: DEV.InviteStatusGetRequest(call_id=c["call_id"]),
        lambda a, c: a.invite_status == 1,
        (
            ErrorCase(
                None,
                lambda c: DEV.InviteStatusGetRequest(call_id="no-such-call"),
                InviteError,
                40037,
            ),
        ),
        wire=lambda c: {"call_id": c["call_id"]},
    ),
    # -- upload ----------------------------------------------------------------------------
    Case(
        "/uploadfile",
        nothing,
        lambda c: UP.FileUploadRequest(
            file=UploadFile(filename="logo.png", content=PNG, content_type="image/png"),
            path=UPLOAD_DIR,
        ),
        lambda a, c: a.download_url.endswith(f"/attachment?file={UPLOAD_DIR}/logo.png"),
        (
            ErrorCase(
                None,
                lambda c: UP.FileUploadRequest(
                    file=UploadFile(filename="plugin.crx", content=b"Cr24")
                ),
                UploadError,
                10911,
            ),
        ),
        # Multipart: the log records the field names only (values None), token redacted.
        wire=lambda c: {"file": None, "path": None},
        state=lambda s, c: (
            s["uploads"]
            == [{"path": f"{UPLOAD_DIR}/logo.png", "size": len(PNG), "media_type": "image/png"}]
        ),
    ),
    Case(
        "/attachment",
        uploaded,
        lambda c: UP.AttachmentDownloadRequest(file=c["file"]),
        # A download: the file itself, not the JSON envelope.
        lambda a, c: a.content == PNG and a.content_type.startswith("image/png"),
        (
            ErrorCase(
                None,
                lambda c: UP.AttachmentDownloadRequest(file="/opt/data/none.png"),
                UploadError,
                10913,
            ),
        ),
        wire=lambda c: {"file": c["file"]},
    ),
    # -- media server and chat -------------------------------------------------------------
    Case(
        "/media_server/user_count",
        alice_in_room,
        lambda c: ep.media_server.MediaServerUserCountGetRequest(),
        lambda a, c: a.server_user_count == [{"server_id": "box1", "user_count": 1}],
        (
            ErrorCase(
                media_servers_offline,
                lambda c: ep.media_server.MediaServerUserCountGetRequest(),
                UnknownCodeError,
                11003,
            ),
        ),
    ),
    Case(
        "/room/get_chat_message_log",
        chat_logged,
        lambda c: ep.chat.ChatMessageLogGetRequest(room_id=ROOM, fromid="alice"),
        lambda a, c: (
            (session := only(a.data)) is not None
            and [(m["fromId"], m["message"]) for m in session["messages"]] == [("alice", "hello")]
        ),
        (
            ErrorCase(
                None,
                lambda c: ep.chat.ChatMessageLogGetRequest(room_id=""),
                InvalidArgumentsError,
                40002,
            ),
            _unknown_room(ep.chat.ChatMessageLogGetRequest),
        ),
        wire=lambda c: {"room_id": ROOM, "fromid": "alice"},
    ),
)
