"""Small builders of rooms, participants and counters for the poller's unit tests."""

from __future__ import annotations

from gateway.poller.model import COUNTERS, Participant, Room, Stream

__all__ = ["T0", "T1", "T2", "counters", "person", "room"]

T0 = "2026-01-01T00:00:00.000Z"
T1 = "2026-01-01T00:00:05.000Z"
T2 = "2026-01-01T00:00:10.000Z"


def room(room_id: str, server_id: str = "box1") -> Room:
    """An open room as the room list reports it."""
    return Room(room_id=room_id, server_id=server_id, create_time=1700000000)


def person(user_id: str, *, audio: str = "published", video: str = "published") -> Participant:
    """A web participant with one microphone and one camera in the given states."""
    return Participant(
        user_id=user_id,
        user_name=user_id.upper(),
        type="web",
        status=1,
        audios=(Stream(id=f"{user_id}_default", name="microphone", status=audio),),
        videos=(Stream(id=f"{user_id}_video0", name="camera", status=video, level=0),),
    )


def counters(**values: int) -> dict[str, int]:
    """Every statistics counter, 0 unless given."""
    return {name: values.get(name, 0) for name in COUNTERS}
