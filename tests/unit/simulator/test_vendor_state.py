"""The vendor state on its own, with a controllable clock."""

from __future__ import annotations

import pytest

from gateway.simulator.__main__ import main
from gateway.simulator.config import SimulatorSettings
from gateway.simulator.state import InviteStatus, Participant, VendorError, VendorState
from gateway.simulator.state.ids import IdFactory


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_state(**settings: object) -> tuple[VendorState, FakeClock]:
    """A state on a fake clock."""
    clock = FakeClock()
    return VendorState(SimulatorSettings(seed=1, **settings), clock=clock), clock


def test_tokens_expire_after_their_lifetime() -> None:
    """A token is valid for token_ttl_s, then refused."""
    state, clock = make_state(token_ttl_s=60)
    token = state.tokens.issue()
    clock.now += 59
    assert state.tokens.is_valid(token)
    clock.now += 2
    assert not state.tokens.is_valid(token)
    assert not state.tokens.is_valid(None)


def test_device_answers_after_the_delay() -> None:
    """A call is answered by advance() once invite_answer_delay_s has passed."""
    state, clock = make_state(invite_answer_delay_s=2.0)
    room = state.rooms.create("r1", "t")
    call = state.devices.call(room, "sip:1@h", None, None, resolution_rate="1280*720")
    clock.now += 1
    state.advance()
    assert call.status == InviteStatus.CALLING
    clock.now += 1
    state.advance()
    assert call.status == InviteStatus.ANSWERED
    assert call.user_id in room.participants
    assert room.is_open


def test_deleting_the_room_ends_the_ringing_call() -> None:
    """A call into a deleted room ends and can no longer be answered (40034)."""
    state, _ = make_state(invite_answer_delay_s=None)
    room = state.rooms.create("r1", "t")
    call = state.devices.call(room, "sip:1@h", "dev", None, resolution_rate="1280*720")
    state.delete_room("r1")
    assert call.status == InviteStatus.ENDED
    with pytest.raises(VendorError) as raised:
        state.devices.answer(call.call_id)
    assert raised.value.code == 40034


def test_web_record_stops_at_its_time_limit() -> None:
    """A web recording's duration is capped at max_time_second."""
    state, clock = make_state()
    record = state.web_records.start(
        "https://x", 10, room_id="r", name="n", width=1, height=1, fps=1, bitrate_kbps=1000
    )
    clock.now += 30
    assert record.duration(clock()) == 10
    assert not record.running(clock())
    assert state.web_records.stop(record.record_id).stopped_at == record.started_at + 10


def test_meeting_time_is_counted_on_close() -> None:
    """Closing a room adds its open time to time_total."""
    state, clock = make_state()
    room = state.open_room("r1")
    state.add_participant(room, Participant(user_id="a", user_name="a", device_type="box"))
    clock.now += 90
    state.close_room(room)
    totals = state.statistics.totals(0, clock(), "r1")
    assert (totals["time_total"], totals["box_cnt"], totals["meeting_total"]) == (90, 1, 1)


def test_room_join_twice_is_40031() -> None:
    """The same user cannot be in a room twice."""
    state, _ = make_state()
    room = state.open_room("r1")
    state.add_participant(room, Participant(user_id="a", user_name="a"))
    with pytest.raises(VendorError) as raised:
        state.add_participant(room, Participant(user_id="a", user_name="a"))
    assert raised.value.code == 40031


def test_closing_a_room_stops_everything_in_it() -> None:
    """Recordings finish, lives, AVC and players go, calls end."""
    state, _ = make_state(invite_answer_delay_s=None)
    room = state.open_room("r1")
    record = state.recordings.start(room, "mix", "n")
    state.lives.start("r1", "rtmp://x", [], [])
    state.avc.start(
        "r1",
        manual=False,
        max_video_number=1,
        layout_mode=1,
        video_name="",
        framerate=1,
        bitrate=1,
        resolution="640*360",
    )
    player = state.media.create("r1", "p", None)
    call = state.devices.call(room, "sip:1@h", "dev", None, resolution_rate="1280*720")
    state.close_room(room)
    assert not record.running
    assert state.lives.of_room("r1") == []
    with pytest.raises(VendorError):
        state.avc.get("r1")
    with pytest.raises(VendorError):
        state.media.get("r1", player.play_id)
    assert call.status == InviteStatus.ENDED


def test_id_factory_is_reproducible() -> None:
    """Same seed, same ids; reset starts over."""
    first, second = IdFactory(5), IdFactory(5)
    assert [first.hex(), first.uuid(), first.digits(11)] == [
        second.hex(),
        second.uuid(),
        second.digits(11),
    ]
    values = [first.next_int("a"), first.next_int("a")]
    first.reset()
    assert first.next_int("a") == values[0] == 1


def test_cli_passes_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """python -m gateway.simulator --host/--port become the settings served."""
    served: list[SimulatorSettings] = []
    monkeypatch.setattr("gateway.simulator.__main__.serve", served.append)
    main(["--host", "0.0.0.0", "--port", "9700", "--seed", "3"])  # noqa: S104 (a test value)
    assert (served[0].host, served[0].port, served[0].seed) == ("0.0.0.0", 9700, 3)  # noqa: S104
