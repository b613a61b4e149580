"""AVC: the server-side composite ("mixed screen") video of a room (``/room/avc/*``)."""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .ids import IdFactory
from .rooms import Room

__all__ = ["LAYOUT_MODES", "AvcSetting", "AvcStore", "parse_resolution"]

# layout_mode -> the camelCase `layoutMode` text of get_avc_setting. Only the automatic
# name is printed in the reference; the other two are this simulator's.
LAYOUT_MODES = {
    0: "Outgoing_View_Layout_Custom",
    1: "Outgoing_View_Layout_Auto_Orato",
    2: "Outgoing_View_Layout_Main_Video",
}


def parse_resolution(text: str) -> tuple[int, int]:
    """``"1280*720"`` -> (1280, 720); 40002 when malformed."""
    width, sep, height = text.partition("*")
    if not (sep and width.isdigit() and height.isdigit()):
        raise VendorError(40002, "args required or error")
    return int(width), int(height)


@dataclass(slots=True)
class AvcSetting:
    """A room's AVC parameters and the videos placed on its canvas."""

    room_id: str
    manual: bool
    max_video_number: int
    layout_mode: int
    video_name: str
    framerate: int
    bitrate: int
    width: int
    height: int
    stream_id: str
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource id -> placement
    focus_resource_id: str = ""
    main_video_resource_id: str = ""
    main_video_name: str = ""

    def answer(self, room: Room) -> dict[str, Any]:
        """The ``data`` of ``/room/avc/get_avc_setting``."""
        return {
            "view_width": self.width,
            "layoutMode": LAYOUT_MODES[self.layout_mode],
            "video_name": self.video_name,
            "view_bitrate": self.bitrate,
            "view_height": self.height,
            "room_id": self.room_id,
            "view_fps": self.framerate,
            "view_stream_id": self.stream_id,
            "videos": self.videos or self._automatic_videos(room),
        }

    def _automatic_videos(self, room: Room) -> dict[str, dict[str, Any]]:
        """Without a selection, the published videos of the room in a square grid."""
        ids = [
            (v.id, p.user_name)
            for p in room.participants.values()
            for v in p.videos
            if v.status == "published"
        ][: self.max_video_number]
        if not ids:
            return {}
        side = math.ceil(math.sqrt(len(ids)))
        cell = 1 / side
        return {
            resource_id: placement(
                name,
                zorder=0,
                x=(i % side) * cell,
                y=(i // side) * cell,
                w=cell,
                h=cell,
                key=resource_id,
            )
            for i, (resource_id, name) in enumerate(ids)
        }


def placement(
    name: str, *, zorder: int, x: float, y: float, w: float, h: float, key: str
) -> dict[str, Any]:
    """One entry of ``videos`` in get_avc_setting (ssrc derived from the key, stable)."""
    return {
        "zorder": zorder,
        "x": x,
        "w": w,
        "y": y,
        "h": h,
        "ssrc": zlib.crc32(key.encode()),
        "extend_info": json.dumps({"osd": name}, ensure_ascii=False, separators=(",", ":")),
    }


class AvcStore:
    """AVC settings by room; 40050 when set twice, 40051 when used before being set."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._settings: dict[str, AvcSetting] = {}

    def start(self, room_id: str, **params: Any) -> AvcSetting:
        """Switch AVC on for the room."""
        if room_id in self._settings:
            raise VendorError(40050, "room already has set avc mode")
        if params["layout_mode"] not in LAYOUT_MODES:
            raise VendorError(40002, "args required or error")
        width, height = parse_resolution(params.pop("resolution"))
        setting = AvcSetting(
            room_id=room_id, width=width, height=height, stream_id=self._ids.uuid(), **params
        )
        self._settings[room_id] = setting
        return setting

    def get(self, room_id: str) -> AvcSetting:
        """The room's setting; 40051 when AVC is off."""
        setting = self._settings.get(room_id)
        if setting is None:
            raise VendorError(40051, "room hasn't set avc mode")
        return setting

    def stop(self, room_id: str) -> None:
        """Switch AVC off; 40051 when it is off."""
        self.get(room_id)
        del self._settings[room_id]

    def drop(self, room_id: str) -> None:
        """Forget the room's AVC (the room closed or was deleted)."""
        self._settings.pop(room_id, None)

    def select_media(self, room_id: str, videos: list[dict[str, Any]]) -> None:
        """Place the given videos (video_name, zorder, x, y, w, h) on the canvas."""
        setting = self.get(room_id)
        selected = {}
        for video in videos:
            if not isinstance(video, dict):
                raise VendorError(40002, "args required or error")
            key = str(video.get("resource_id") or video.get("video_name") or "")
            if not key:
                raise VendorError(40002, "args required or error")
            selected[key] = placement(
                str(video.get("video_name", key)),
                zorder=int(video.get("zorder", 0)),
                x=video.get("x", 0),
                y=video.get("y", 0),
                w=video.get("w", 1),
                h=video.get("h", 1),
                key=key,
            )
        setting.videos = selected

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [
            {
                "room_id": s.room_id,
                "manual": s.manual,
                "layout_mode": s.layout_mode,
                "max_video_number": s.max_video_number,
                "focus_resource_id": s.focus_resource_id,
                "main_video_resource_id": s.main_video_resource_id,
                "main_video_name": s.main_video_name,
                "videos": s.videos,
            }
            for s in self._settings.values()
        ]
