"""The CloudEvent wrapper as a model: for schemas and for readers, not for building events."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gateway.messages.changes import (
    ChangeName,
    MediaServerUserCountChangedData,
    ParticipantChangedData,
    ParticipantJoinedData,
    ParticipantLeftData,
    RoomClosedData,
    RoomOpenedData,
    RoomStatisticsChangedData,
)
from gateway.messages.results import ResultData

__all__ = [
    "CHANGE_EVENTS",
    "ChangeEvent",
    "CloudEvent",
    "MediaServerUserCountChangedEvent",
    "ParticipantChangedEvent",
    "ParticipantJoinedEvent",
    "ParticipantLeftEvent",
    "ResultEvent",
    "RoomClosedEvent",
    "RoomOpenedEvent",
    "RoomStatisticsChangedEvent",
]

DataT = TypeVar("DataT")


class CloudEvent(BaseModel, Generic[DataT]):
    """A structured-mode CloudEvent 1.0."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field("1.0", pattern=r"^1\.0$")
    id: str
    source: str
    type: str
    subject: str | None = None
    time: str | None = None
    datacontenttype: str = "application/json"
    traceparent: str | None = Field(None, description="W3C trace context (distributed tracing)")
    data: DataT


class ResultEvent(CloudEvent[ResultData]):
    """`<prefix>.command.succeeded|failed|rejected` on the results topic."""


class ChangeEvent(CloudEvent[DataT], Generic[DataT]):
    """A poller change event on the events topic (`gateway.messages.changes`)."""

    partitionkey: str = Field(
        description="the Kafka key: the room_id, or the server_id of media-server events"
    )


class RoomOpenedEvent(ChangeEvent[RoomOpenedData]):
    """`<prefix>.room.opened`, keyed by room_id."""


class RoomClosedEvent(ChangeEvent[RoomClosedData]):
    """`<prefix>.room.closed`, keyed by room_id."""


class ParticipantJoinedEvent(ChangeEvent[ParticipantJoinedData]):
    """`<prefix>.participant.joined`, keyed by room_id."""


class ParticipantLeftEvent(ChangeEvent[ParticipantLeftData]):
    """`<prefix>.participant.left`, keyed by room_id."""


class ParticipantChangedEvent(ChangeEvent[ParticipantChangedData]):
    """`<prefix>.participant.changed`, keyed by room_id."""


class RoomStatisticsChangedEvent(ChangeEvent[RoomStatisticsChangedData]):
    """`<prefix>.room.statistics.changed`, keyed by room_id."""


class MediaServerUserCountChangedEvent(ChangeEvent[MediaServerUserCountChangedData]):
    """`<prefix>.media_server.user_count.changed`, keyed by server_id."""


CHANGE_EVENTS: dict[ChangeName, type[ChangeEvent[Any]]] = {
    "room.opened": RoomOpenedEvent,
    "room.closed": RoomClosedEvent,
    "participant.joined": ParticipantJoinedEvent,
    "participant.left": ParticipantLeftEvent,
    "participant.changed": ParticipantChangedEvent,
    "room.statistics.changed": RoomStatisticsChangedEvent,
    "media_server.user_count.changed": MediaServerUserCountChangedEvent,
}
