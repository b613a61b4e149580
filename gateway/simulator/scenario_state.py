"""The state part of the scenario API (paths under ``/_sim``): JSON in, JSON out.

Tests, demos and users drive what the vendor's clients would do (open rooms, join, leave,
mute, chat, answer device calls) and set what the vendor measures (statistics, media-server
user counts), then read everything back with ``GET /_sim/state``.

Errors: 400 for a body that does not validate, 404 for an unknown room / user / call / server,
409 for a conflict (user already in the room, invite no longer ringing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .state import COUNTERS, Participant, Stream, VendorError, VendorState

__all__ = ["SCENARIO_PREFIX", "scenario_state_routes"]

StreamStatus = Literal["init", "published"]
DeviceType = Literal["web", "miniprogram", "android", "ios", "pc", "box", "other"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VideoBody(_Body):
    """A video stream, shaped like an entry of ``videos`` in ``/room/participate/list``."""

    id: str | None = None
    name: str | None = None
    status: StreamStatus | None = None
    level: int | None = None
    ctype: str | None = None
    description: str | None = None


class AudioBody(_Body):
    """An audio stream, shaped like an entry of ``audios`` in ``/room/participate/list``."""

    id: str | None = None
    name: str | None = None
    status: StreamStatus | None = None
    description: str | None = None


class RoomBody(_Body):
    """``POST /_sim/rooms``."""

    room_id: str = Field(min_length=1)
    topic: str | None = None
    server_id: str | None = None


class ParticipantBody(_Body):
    """``POST /_sim/rooms/{room_id}/participants``; ``audio``/``video`` add one stream each
    (``null`` for none), ``audios``/``videos`` add several."""

    user_id: str = Field(min_length=1)
    user_name: str | None = None
    status: int = 1
    device_type: DeviceType = "web"
    user_data: str = ""
    audio: AudioBody | None = Field(default_factory=AudioBody)
    video: VideoBody | None = Field(default_factory=VideoBody)
    audios: list[AudioBody] = []
    videos: list[VideoBody] = []


class ParticipantPatch(_Body):
    """``PATCH /_sim/rooms/{room_id}/participants/{user_id}``: ``audio``/``video`` change
    every stream of that kind (e.g. ``{"audio": {"status": "init"}}`` mutes)."""

    user_name: str | None = None
    status: int | None = None
    device_type: DeviceType | None = None
    user_data: str | None = None
    audio: AudioBody | None = None
    video: VideoBody | None = None


class StatisticsBody(_Body):
    """``PUT /_sim/statistics``: replaces the entries of ``room_id`` (of all rooms when
    absent) with these counters, recorded at ``at`` (Unix seconds, default now)."""

    room_id: str | None = None
    at: float | None = None
    meeting_total: int = 0
    ios_cnt: int = 0
    pc_cnt: int = 0
    user_cnt: int = 0
    other_cnt: int = 0
    android_cnt: int = 0
    time_total: int = 0
    box_cnt: int = 0
    web_cnt: int = 0


class MediaServerBody(_Body):
    """``PUT /_sim/media_servers/{server_id}``: ``user_count`` null = count room users."""

    user_count: int | None = None
    online: bool = True


class InviteBody(_Body):
    """``POST /_sim/invites/{call_id}``."""

    status: Literal["answered", "refused"]


class ChatBody(_Body):
    """``POST /_sim/rooms/{room_id}/chat``: a message as ``/room/get_chat_message_log``
    returns it."""

    from_id: str = Field(min_length=1)
    message: str
    from_name: str = ""
    dst: str | None = None
    dst_name: str = ""
    timestamp: int | None = None
    session_type: int = 0
    message_type: int = 0


class _ScenarioError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


Handler = Callable[[Request, VendorState], Awaitable[Any]]
_M = TypeVar("_M", bound=BaseModel)


def _route(path: str, handler: Handler, method: str) -> Route:
    async def endpoint(request: Request) -> Response:
        state: VendorState = request.app.state.vendor_state
        try:
            result = await handler(request, state)
        except _ScenarioError as problem:
            return JSONResponse({"error": problem.error}, status_code=problem.status)
        except ValidationError as error:
            return JSONResponse(
                {"error": "invalid body", "details": error.errors(include_url=False)},
                status_code=400,
            )
        return JSONResponse(result)

    return Route(path, endpoint, methods=[method])


async def _body(request: Request, model: type[_M]) -> _M:
    raw = await request.body()
    return model.model_validate_json(raw or b"{}")


def _room(state: VendorState, request: Request) -> Any:
    room = state.rooms.find(request.path_params["room_id"])
    if room is None:
        raise _ScenarioError(404, "no such room")
    return room


def _video(user_id: str, index: int, body: VideoBody) -> Stream:
    return Stream(
        id=body.id or f"{user_id}_video{index}",
        name=body.name or "camera",
        status=body.status or "published",
        level=body.level or 0,
        ctype=body.ctype or "unknown",
        description=body.description or "",
    )


def _audio(user_id: str, index: int, body: AudioBody) -> Stream:
    return Stream(
        id=body.id or (f"{user_id}_default" if index == 0 else f"{user_id}_audio{index}"),
        name=body.name or "microphone",
        status=body.status or "published",
        description=body.description or "",
    )


def _patch_stream(stream: Stream, body: VideoBody | AudioBody) -> None:
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(stream, name, value)


# -- handlers ----------------------------------------------------------------------------


async def open_room(request: Request, state: VendorState) -> Any:
    """Create the room if needed and open its meeting."""
    body = await _body(request, RoomBody)
    return state.open_room(body.room_id, body.topic, body.server_id).snapshot()


async def close_room(request: Request, state: VendorState) -> Any:
    """End the meeting (a no-op when it is not open)."""
    room = _room(state, request)
    if room.is_open:
        state.close_room(room)
    return room.snapshot()


async def add_participant(request: Request, state: VendorState) -> Any:
    """A user joins (the room is created and opened if needed)."""
    body = await _body(request, ParticipantBody)
    room_id = request.path_params["room_id"]
    room = state.rooms.find(room_id) or state.open_room(room_id)
    videos = ([body.video] if body.video else []) + body.videos
    audios = ([body.audio] if body.audio else []) + body.audios
    participant = Participant(
        user_id=body.user_id,
        user_name=body.user_name or body.user_id,
        device_type=body.device_type,
        status=body.status,
        user_data=body.user_data,
        videos=[_video(body.user_id, i, v) for i, v in enumerate(videos)],
        audios=[_audio(body.user_id, i, a) for i, a in enumerate(audios)],
    )
    try:
        state.add_participant(room, participant)
    except VendorError as error:
        raise _ScenarioError(409, error.msg) from None
    return participant.answer() | {"node_id": participant.node_id}


def _participant(state: VendorState, request: Request) -> tuple[Any, Participant]:
    room = _room(state, request)
    participant = room.participants.get(request.path_params["user_id"])
    if participant is None:
        raise _ScenarioError(404, "user not in room")
    return room, participant


async def remove_participant(request: Request, state: VendorState) -> Any:
    """A user leaves."""
    room, participant = _participant(state, request)
    state.remove_participant(room, participant.user_id)
    return participant.answer()


async def change_participant(request: Request, state: VendorState) -> Any:
    """Change name, status, device type or every audio / video stream of a user."""
    _, participant = _participant(state, request)
    body = await _body(request, ParticipantPatch)
    for name in ("user_name", "status", "device_type", "user_data"):
        value = getattr(body, name)
        if value is not None:
            setattr(participant, name, value)
    if body.audio is not None:
        for stream in participant.audios:
            _patch_stream(stream, body.audio)
    if body.video is not None:
        for stream in participant.videos:
            _patch_stream(stream, body.video)
    return participant.answer() | {"node_id": participant.node_id}


async def add_chat_message(request: Request, state: VendorState) -> Any:
    """Log a chat message in the room's current (or last) meeting."""
    room = _room(state, request)
    body = await _body(request, ChatBody)
    session_started = room.opened_at if room.opened_at is not None else state.now()
    message = state.chat.add(room.room_id, session_started, **body.model_dump(exclude_none=True))
    return message.answer() | {"session_id": message.session_id}


async def set_statistics(request: Request, state: VendorState) -> Any:
    """Replace the statistics of a room (or of all rooms)."""
    body = await _body(request, StatisticsBody)
    counters = {name: getattr(body, name) for name in COUNTERS}
    state.statistics.replace(body.room_id, counters, body.at)
    return {"room_id": body.room_id, "counters": counters}


async def set_media_server(request: Request, state: VendorState) -> Any:
    """Register or change a media server."""
    body = await _body(request, MediaServerBody)
    server = state.media_servers.set(
        request.path_params["server_id"], online=body.online, user_count=body.user_count
    )
    return {"server_id": server.server_id, "online": server.online, "user_count": server.user_count}


async def remove_media_server(request: Request, state: VendorState) -> Any:
    """Forget a media server."""
    server_id = request.path_params["server_id"]
    if not state.media_servers.remove(server_id):
        raise _ScenarioError(404, "no such media server")
    return {"server_id": server_id}


async def settle_invite(request: Request, state: VendorState) -> Any:
    """The called device answers (joins the room) or refuses."""
    body = await _body(request, InviteBody)
    call_id = request.path_params["call_id"]
    try:
        if body.status == "answered":
            call = state.devices.answer(call_id)
        else:
            call = state.devices.refuse(call_id)
    except VendorError as error:
        raise _ScenarioError(404 if error.code == 40037 else 409, error.msg) from None
    return call.snapshot()


async def expire_tokens(request: Request, state: VendorState) -> Any:
    """Every issued token is now expired (the vendor answers 40003)."""
    return {"expired": state.tokens.expire_all()}


async def dump_state(request: Request, state: VendorState) -> Any:
    """Everything the simulated vendor knows (no secrets)."""
    state.advance()
    return state.snapshot()


SCENARIO_PREFIX = "/_sim"


def scenario_state_routes(prefix: str = SCENARIO_PREFIX) -> list[BaseRoute]:
    """The routes, with paths under ``prefix`` (``/_sim``), like the fault layer's routes."""
    table: list[tuple[str, Handler, str]] = [
        ("/rooms", open_room, "POST"),
        ("/rooms/{room_id}/close", close_room, "POST"),
        ("/rooms/{room_id}/participants", add_participant, "POST"),
        ("/rooms/{room_id}/participants/{user_id}", remove_participant, "DELETE"),
        ("/rooms/{room_id}/participants/{user_id}", change_participant, "PATCH"),
        ("/rooms/{room_id}/chat", add_chat_message, "POST"),
        ("/statistics", set_statistics, "PUT"),
        ("/media_servers/{server_id}", set_media_server, "PUT"),
        ("/media_servers/{server_id}", remove_media_server, "DELETE"),
        ("/invites/{call_id}", settle_invite, "POST"),
        ("/tokens/expire", expire_tokens, "POST"),
        ("/state", dump_state, "GET"),
    ]
    return [_route(prefix + path, handler, method) for path, handler, method in table]
