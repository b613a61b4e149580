"""Devices invited into rooms by SIP / H.323 uri (``/device/*``).

A call starts *calling*; it is *answered* after ``answer_delay_s`` (or when the scenario API
answers it), and the device then joins the room as a participant with the call's user id.
Progress is evaluated lazily by :meth:`DeviceStore.advance`, called before every request, so
no background task is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import VendorError
from .ids import IdFactory
from .rooms import Participant, Room, RoomStore, Stream

__all__ = ["DeviceCall", "DeviceStore", "InviteStatus"]

RESOLUTIONS = ("640*360", "1280*720", "1920*1080")
URI_SCHEMES = ("sip:", "h323:", "volte:", "tel:")
NO_INVITE = "no invite info for this user_id"


class InviteStatus:
    """``invite_status`` of ``/device/get_invite_status`` (0-3 in the reference, meanings
    unreadable; this is the simulator's reading)."""

    CALLING = 0
    ANSWERED = 1
    REFUSED = 2
    ENDED = 3


@dataclass(slots=True)
class DeviceCall:
    """One invitation of a device into a room."""

    call_id: str
    room_id: str
    user_id: str
    uri: str
    name: str
    created_at: float
    status: int = InviteStatus.CALLING
    focused: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """For the scenario API's state dump."""
        return {
            "call_id": self.call_id,
            "room_id": self.room_id,
            "user_id": self.user_id,
            "uri": self.uri,
            "name": self.name,
            "invite_status": self.status,
            "focused": self.focused,
        }


class DeviceStore:
    """Calls by id; the device's participant lives in the room once answered."""

    def __init__(
        self,
        ids: IdFactory,
        clock: Callable[[], float],
        rooms: RoomStore,
        answer_delay_s: float | None,
    ) -> None:
        self._ids = ids
        self._clock = clock
        self._rooms = rooms
        self._answer_delay_s = answer_delay_s
        self._calls: dict[str, DeviceCall] = {}
        self._pending: list[DeviceCall] = []

    def call(
        self, room: Room, uri: str, user_id: str | None, name: str | None, **options: Any
    ) -> DeviceCall:
        """Invite a device; 40031 when its user id is in the room (or being called), 40032
        for an address that is no sip/h323 uri, 40038/40039 for unsupported video settings."""
        if not uri.lower().startswith(URI_SCHEMES):
            raise VendorError(40032, "invalid address, check it correctly")
        if options.get("resolution_rate") not in RESOLUTIONS:
            raise VendorError(40038, "not support this video_resolution")
        if not 1 <= options.get("frame_rate", 20) <= 60:
            raise VendorError(40039, "not support this frame_rate")
        if not 1 <= options.get("video_rate", 2) <= 4:
            raise VendorError(40038, "video_rate set too low or too high for 1M-4M properly")
        user_id = user_id or self._ids.uuid()
        if user_id in room.participants or any(
            c.user_id == user_id and c.room_id == room.room_id for c in self._pending
        ):
            raise VendorError(40031, "user is in room")
        call = DeviceCall(
            call_id=self._ids.uuid(),
            room_id=room.room_id,
            user_id=user_id,
            uri=uri,
            name=name or uri.split(":", 1)[-1].split("@", 1)[0],
            created_at=self._clock(),
            options=options,
        )
        self._calls[call.call_id] = call
        self._pending.append(call)
        return call

    def advance(self) -> None:
        """Answer the calls whose answer delay has passed."""
        if not self._pending or self._answer_delay_s is None:
            return
        due = self._clock() - self._answer_delay_s
        for call in [c for c in self._pending if c.created_at <= due]:
            self.answer(call.call_id)

    def get(self, call_id: str) -> DeviceCall:
        """The call; 40037 when unknown."""
        call = self._calls.get(call_id)
        if call is None:
            raise VendorError(40037, "no such call record")
        return call

    def answer(self, call_id: str) -> DeviceCall:
        """The device picks up and joins the room (refused if the room is gone or the user
        id meanwhile joined by other means)."""
        call = self._settle(call_id)
        room = self._rooms.find(call.room_id)
        if room is None or call.user_id in room.participants:
            call.status = InviteStatus.REFUSED
            return call
        call.status = InviteStatus.ANSWERED
        participant = Participant(
            user_id=call.user_id,
            user_name=call.name,
            device_type="pc",
            videos=[Stream(id=f"{call.user_id}_device", name=call.name)],
            audios=[Stream(id=f"{call.user_id}_default", name=call.name)],
            call_id=call.call_id,
        )
        self._rooms.join(room, participant)
        return call

    def refuse(self, call_id: str) -> DeviceCall:
        """The device declines."""
        call = self._settle(call_id)
        call.status = InviteStatus.REFUSED
        return call

    def _settle(self, call_id: str) -> DeviceCall:
        call = self.get(call_id)
        if call.status != InviteStatus.CALLING:
            raise VendorError(40034, "invite failed or internal error append msg")
        self._pending.remove(call)
        return call

    def of_user(self, room_id: str, user_id: str) -> DeviceCall:
        """The latest call of ``user_id`` into the room; 40033 when there is none."""
        for call in reversed(self._calls.values()):
            if call.room_id == room_id and call.user_id == user_id:
                return call
        raise VendorError(40033, NO_INVITE)

    def in_room(self, room: Room, user_id: str) -> tuple[DeviceCall, Participant]:
        """The answered call and the device's participant; 40033 without a call, 40008 when
        the device is not (or no longer) in the room."""
        call = self.of_user(room.room_id, user_id)
        participant = room.participants.get(user_id)
        if participant is None or participant.call_id != call.call_id:
            raise VendorError(40008, "user not in room")
        return call, participant

    def hang_up(self, room: Room, user_id: str) -> DeviceCall:
        """Remove the device from the room (or cancel the ringing call)."""
        call = self.of_user(room.room_id, user_id)
        if call.status == InviteStatus.CALLING:
            self._pending.remove(call)
        elif call.status == InviteStatus.ANSWERED and user_id in room.participants:
            self._rooms.leave(room, user_id)
        call.status = InviteStatus.ENDED
        return call

    def participant_left(self, room_id: str, user_id: str) -> None:
        """Mark a device's call ended when its participant leaves by other means."""
        for call in self._calls.values():
            if (
                call.room_id == room_id
                and call.user_id == user_id
                and call.status == InviteStatus.ANSWERED
            ):
                call.status = InviteStatus.ENDED

    def room_closed(self, room_id: str) -> None:
        """End every call into a room that closed."""
        for call in self._calls.values():
            if call.room_id == room_id and call.status in (
                InviteStatus.CALLING,
                InviteStatus.ANSWERED,
            ):
                call.status = InviteStatus.ENDED
        self._pending = [c for c in self._pending if c.room_id != room_id]

    def snapshot(self) -> list[dict[str, Any]]:
        """For the scenario API's state dump."""
        return [c.snapshot() for c in self._calls.values()]
