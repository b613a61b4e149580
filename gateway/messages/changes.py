"""Change events of the poller: CloudEvents 1.0 (structured JSON) on the events topic.

Built by hand like the result events (`gateway.messages.results`). One event per change the
poller observed; the Kafka key is the ``room_id`` (``server_id`` for media-server events), and
the same value travels as the ``partitionkey`` extension of the CloudEvents Kafka binding.

``type`` is ``<prefix>.<name>``; ``subject`` names the entity (``rooms/<room_id>``,
``rooms/<room_id>/participants/<user_id>``, ``media_servers/<server_id>``); ``time`` is when
the poller observed the change. ``data`` carries the entity's ids, ``before`` / ``after``
(null where the entity did not exist or does no longer), ``changed`` (the fields or counters
that differ, for the ``*.changed`` events), ``observed_at``, ``initial`` (the event reports
state found by the first cycle after a fresh start, not a change) and ``sequence`` (the
number of this event among all events of its room or media server: it only grows, so a
consumer can order and spot gaps).

``data.account`` and the ``account`` extension attribute name the vendor account the change
was read from (one poller watches every configured account; room ids are the vendor's, so two
accounts may have the same one).

The id is deterministic: a UUIDv5 of the account, the room's opening (when the poller saw it
open), the name, the subject, the sequence and a digest of ``before``/``after``. The same
change observed from the same durable state gets the same id on any replica, so a duplicate
after a failover can be dropped downstream; two different changes never share one, also when
a room opens again (its sequence then starts at 1 again).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CHANGE_NAMES",
    "CHANGE_NAMESPACE",
    "ChangeName",
    "MediaServerCount",
    "MediaServerUserCountChangedData",
    "ParticipantChangedData",
    "ParticipantInfo",
    "ParticipantJoinedData",
    "ParticipantLeftData",
    "RoomClosedData",
    "RoomInfo",
    "RoomOpenedData",
    "RoomStatisticsChangedData",
    "StatisticsCounters",
    "StatisticsWindow",
    "StreamInfo",
    "change_event",
    "change_event_bytes",
    "change_id",
]

CHANGE_NAMESPACE = uuid.UUID("2d4b7c1e-5a8f-4e36-b0c9-71e3a9d4f5b2")

ChangeName = Literal[
    "room.opened",
    "room.closed",
    "participant.joined",
    "participant.left",
    "participant.changed",
    "room.statistics.changed",
    "media_server.user_count.changed",
]
CHANGE_NAMES: tuple[ChangeName, ...] = (
    "room.opened",
    "room.closed",
    "participant.joined",
    "participant.left",
    "participant.changed",
    "room.statistics.changed",
    "media_server.user_count.changed",
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StreamInfo(_Model):
    """An audio or video device of a participant."""

    id: str
    name: str = ""
    status: str = Field("", description="init or published (the vendor's stream states)")
    description: str = ""
    level: int | None = Field(None, description="video streams only")
    ctype: str | None = Field(None, description="video streams only")


class ParticipantInfo(_Model):
    """A participant as ``/room/participate/list`` reports it (streams sorted by id)."""

    user_id: str
    user_name: str = ""
    type: str = Field("", description="client type: web, miniprogram, android, ios, pc")
    status: int = 0
    user_data: str = ""
    audios: list[StreamInfo] = []
    videos: list[StreamInfo] = []
    partial: bool = Field(
        False,
        description="only id and name are known (from the room list); a participant.changed"
        " with the details follows",
    )


class RoomInfo(_Model):
    """An open room as ``/room/list`` reports it."""

    room_id: str
    server_id: str = Field("", description="the media server the room runs on")
    create_time: int = Field(0, description="Unix seconds")


class StatisticsCounters(_Model):
    """The counters of ``/room/get_statistic`` over the statistics window."""

    meeting_total: int = 0
    ios_cnt: int = 0
    pc_cnt: int = 0
    user_cnt: int = 0
    other_cnt: int = 0
    android_cnt: int = 0
    time_total: int = 0
    box_cnt: int = 0
    web_cnt: int = 0


class StatisticsWindow(_Model):
    """The period the counters cover: ``[start_time, end_time]``, Unix seconds."""

    start_time: int
    end_time: int


class MediaServerCount(_Model):
    """Users on one media server."""

    user_count: int


class _ChangeData(_Model):
    account: str = Field(description='the vendor account ("default" or a configured name)')
    observed_at: str = Field(description="when the poller observed it (RFC 3339, UTC)")
    initial: bool = Field(
        False, description="state found by the first cycle after a fresh start, not a change"
    )
    sequence: int = Field(
        description="number of this event among its room's events since the room opened"
        " (room.opened is 1), or among its media server's events"
    )


class RoomOpenedData(_ChangeData):
    """``room.opened``: a room is in the room list that was not."""

    room_id: str
    before: None = None
    after: RoomInfo


class RoomClosedData(_ChangeData):
    """``room.closed``: a room left the room list (its participants' ``participant.left``
    events come first)."""

    room_id: str
    before: RoomInfo
    after: None = None


class ParticipantJoinedData(_ChangeData):
    """``participant.joined``."""

    room_id: str
    user_id: str
    before: None = None
    after: ParticipantInfo


class ParticipantLeftData(_ChangeData):
    """``participant.left``: the user left, or the room closed (``reason``)."""

    room_id: str
    user_id: str
    reason: Literal["left", "room_closed"] = "left"
    before: ParticipantInfo
    after: None = None


class ParticipantChangedData(_ChangeData):
    """``participant.changed``: status, client type, name, user data or audio/video devices
    and their states."""

    room_id: str
    user_id: str
    changed: list[str]
    before: ParticipantInfo
    after: ParticipantInfo


class RoomStatisticsChangedData(_ChangeData):
    """``room.statistics.changed``: which counters changed over the window, before and after
    (``before`` null on the first read of a room). After a room closed, one more with
    ``final`` true: its statistics read after the close (emitted even when nothing changed)."""

    room_id: str
    changed: list[str]
    window: StatisticsWindow
    final: bool = Field(
        False, description="the room closed: its last statistics, read after the close"
    )
    before: StatisticsCounters | None
    after: StatisticsCounters


class MediaServerUserCountChangedData(_ChangeData):
    """``media_server.user_count.changed``: ``before`` null when the server was not reported
    before, ``after`` null when it no longer is (offline)."""

    server_id: str
    before: MediaServerCount | None
    after: MediaServerCount | None


def _digest(data: Mapping[str, Any]) -> str:
    text = json.dumps(
        [data.get("before"), data.get("after")], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def change_id(name: str, subject: str, data: Mapping[str, Any], opening: str = "") -> str:
    """The event id: account, entity (subject, the room's opening), change (name,
    before/after) and observation (sequence)."""
    seed = f"{data.get('account', 'default')}|{opening}|{name}|{subject}|{data['sequence']}"
    return str(uuid.uuid5(CHANGE_NAMESPACE, f"{seed}|{_digest(data)}"))


def change_event(
    name: ChangeName,
    data: Mapping[str, Any],
    *,
    subject: str,
    key: str,
    prefix: str,
    source: str,
    opening: str = "",
) -> dict[str, Any]:
    """The structured CloudEvent for one change; ``data`` is JSON-ready (see the models)."""
    return {
        "specversion": "1.0",
        "id": change_id(name, subject, data, opening),
        "source": source,
        "type": f"{prefix}.{name}",
        "subject": subject,
        "time": data["observed_at"],
        "datacontenttype": "application/json",
        "partitionkey": key,  # the CloudEvents Kafka binding's partitioning extension
        "account": data.get("account", "default"),  # an extension attribute: filter by it
        "data": dict(data),
    }


def change_event_bytes(event: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
