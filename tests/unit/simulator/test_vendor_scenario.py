"""The state part of the scenario API under /_sim, and the app around it."""

from __future__ import annotations

import gateway.simulator as simulator_package
from gateway.simulator import SimulatorSettings, create_app

from .vendor_client import VendorClient, seeded_settings, simulator


async def test_expired_tokens_answer_40003(vendor: VendorClient) -> None:
    """After POST /_sim/tokens/expire the token is refused; a new one works."""
    response = await vendor.sim("POST", "/tokens/expire")
    assert response.json() == {"expired": 1}
    assert await vendor.call("/room/list") == {"ret": 40003, "msg": "access token check invalid"}
    await vendor.login()
    assert (await vendor.call("/room/list"))["ret"] == 0


async def test_token_lifetime_comes_from_the_settings() -> None:
    """A token older than token_ttl_s is refused."""
    async with simulator(seeded_settings(token_ttl_s=0.0)) as vendor:
        assert (await vendor.call("/room/list"))["ret"] == 40003


async def test_open_room_creates_and_opens(vendor: VendorClient) -> None:
    """POST /_sim/rooms creates a missing room and opens it on the given server."""
    response = await vendor.sim(
        "POST", "/rooms", {"room_id": "r1", "topic": "T", "server_id": "box9"}
    )
    assert response.status_code == 200
    room = response.json()
    assert (room["room_id"], room["topic"], room["is_open"], room["server_id"]) == (
        "r1",
        "T",
        True,
        "box9",
    )
    assert (await vendor.call("/room/read", room_id="r1"))["data"]["topic"] == "T"
    counts = (await vendor.call("/media_server/user_count"))["server_user_count"]
    assert {c["server_id"] for c in counts} == {"box1", "box9"}


async def test_close_room_through_the_scenario(vendor: VendorClient) -> None:
    """POST /_sim/rooms/{id}/close ends the meeting; unknown rooms are 404."""
    await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a"})
    response = await vendor.sim("POST", "/rooms/r1/close")
    assert response.json()["is_open"] is False
    assert (await vendor.call("/room/list"))["room_count"] == 0
    assert (await vendor.sim("POST", "/rooms/nope/close")).status_code == 404


async def test_participant_add_patch_remove(vendor: VendorClient) -> None:
    """Participants can be added (409 twice), changed and removed (404 when absent)."""
    body = {"user_id": "a", "user_name": "Ann", "device_type": "ios"}
    added = await vendor.sim("POST", "/rooms/r1/participants", body)
    assert added.json()["type"] == "ios"
    assert (await vendor.sim("POST", "/rooms/r1/participants", body)).status_code == 409
    patch = {"status": 2, "audio": {"status": "init"}, "video": {"status": "init", "level": 2}}
    changed = (await vendor.sim("PATCH", "/rooms/r1/participants/a", patch)).json()
    assert changed["status"] == 2
    assert changed["audios"][0]["status"] == "init"
    assert (changed["videos"][0]["status"], changed["videos"][0]["level"]) == ("init", 2)
    listed = (await vendor.call("/room/participate/list", room_id="r1"))["participates"]
    assert listed[0]["audios"][0]["status"] == "init"
    assert (await vendor.sim("DELETE", "/rooms/r1/participants/a")).status_code == 200
    assert (await vendor.sim("DELETE", "/rooms/r1/participants/a")).status_code == 404
    assert (await vendor.sim("PATCH", "/rooms/r1/participants/a", {})).status_code == 404


async def test_participant_streams(vendor: VendorClient) -> None:
    """audio/video null mean no stream; lists add several."""
    body = {
        "user_id": "a",
        "audio": None,
        "video": None,
        "videos": [
            {"id": "cam1", "name": "front"},
            {"id": "cam2", "name": "back", "status": "init"},
        ],
    }
    answer = (await vendor.sim("POST", "/rooms/r1/participants", body)).json()
    assert answer["audios"] == []
    assert [(v["id"], v["status"]) for v in answer["videos"]] == [
        ("cam1", "published"),
        ("cam2", "init"),
    ]


async def test_invalid_scenario_body_is_400(vendor: VendorClient) -> None:
    """Bodies are validated (unknown fields and bad enum values are refused)."""
    bad = await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a", "colour": "red"})
    assert bad.status_code == 400
    bad = await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a", "device_type": "fax"})
    assert bad.status_code == 400
    assert (await vendor.sim("POST", "/invites/x", {"status": "maybe"})).status_code == 400


async def test_unknown_invite_is_404(vendor: VendorClient) -> None:
    """Answering a call that does not exist is a 404."""
    assert (await vendor.sim("POST", "/invites/nope", {"status": "answered"})).status_code == 404


async def test_set_statistics_replaces_counters(vendor: VendorClient) -> None:
    """PUT /_sim/statistics replaces a room's counters (or all of them without room_id)."""
    await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a"})
    body = {"room_id": "r1", "meeting_total": 3, "pc_cnt": 4, "user_cnt": 4, "time_total": 600}
    assert (await vendor.sim("PUT", "/statistics", body)).status_code == 200
    stats = await vendor.call("/room/get_statistic", start_time=0, end_time=2**40, room_id="r1")
    assert (stats["meeting_total"], stats["pc_cnt"], stats["web_cnt"], stats["time_total"]) == (
        3,
        4,
        0,
        600,
    )
    await vendor.sim("PUT", "/statistics", {"web_cnt": 1})
    stats = await vendor.call("/room/get_statistic", start_time=0, end_time=2**40)
    assert (stats["meeting_total"], stats["web_cnt"]) == (0, 1)


async def test_state_dump_has_no_secrets(vendor: VendorClient) -> None:
    """GET /_sim/state shows rooms and token counts, never token values or keys."""
    await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a"})
    await vendor.call("/room/update", room_id="r1", password="room-secret")
    dump = await vendor.sim("GET", "/state")
    text = dump.text
    assert dump.json()["tokens"] == {"issued": 1, "valid": 1}
    assert dump.json()["rooms"][0]["participants"][0]["user_id"] == "a"
    for secret in (vendor.token, "demo_secret", "room-secret"):
        assert secret not in text


async def test_reset_forgets_state_and_faults(vendor: VendorClient) -> None:
    """POST /_sim/reset clears the vendor state (tokens too) and the fault layer's log."""
    await vendor.sim("POST", "/rooms", {"room_id": "r1"})
    await vendor.call("/room/list")
    assert (await vendor.http.get("/_sim/requests")).json()["entries"] != []
    assert (await vendor.sim("POST", "/reset")).json() == {"reset": True}
    dump = (await vendor.sim("GET", "/state")).json()
    assert dump["rooms"] == []
    assert dump["tokens"] == {"issued": 0, "valid": 0}
    requests = (await vendor.http.get("/_sim/requests")).json()
    assert requests["entries"] == []


async def test_seeded_simulators_repeat_their_ids() -> None:
    """Two simulators with the same seed hand out the same ids, also after a reset."""
    ids = []
    for _ in range(2):
        async with simulator(seeded_settings(seed=42)) as vendor:
            first = await vendor.call("/room/mix_record/start", room_id="x")
            await vendor.call("/room/create", topic="t")
            created = await vendor.call("/room/create", topic="t")
            await vendor.sim("POST", "/reset")
            await vendor.login()
            after_reset = await vendor.call("/room/create", topic="t")
            ids.append((first["ret"], created["room_id"], after_reset["room_id"]))
    assert ids[0] == ids[1]


async def test_fault_layer_logs_vendor_requests_only(vendor: VendorClient) -> None:
    """The request log records vendor calls, not the scenario API."""
    await vendor.sim("GET", "/state")
    await vendor.call("/room/list")
    entries = (await vendor.http.get("/_sim/requests")).json()["entries"]
    assert [e["path"] for e in entries] == ["/app/get_token", "/room/list"]


async def test_injected_error_uses_the_endpoint_envelope(vendor: VendorClient) -> None:
    """Faults configured through the fault layer reach vendor answers."""
    config = {"error_rates": {"41001": 1.0}, "paths": ["/room/list"]}
    assert (await vendor.http.put("/_sim/faults", json=config)).status_code == 200
    assert (await vendor.call("/room/list"))["ret"] == 41001
    assert (await vendor.call("/app/get_licence_info"))["ret"] == 0


def test_create_app_wires_state_and_faults() -> None:
    """create_app puts the state on app.state.vendor_state and the injector on app.state.faults."""
    app = create_app(SimulatorSettings(port=9999))
    assert app.state.vendor_state.settings.port == 9999
    assert hasattr(app.state.faults, "reset")
    assert app.state.vendor_state.urls.base_url == "http://127.0.0.1:9999"


def test_public_url_overrides_download_host() -> None:
    """public_url is where download URLs point."""
    app = create_app(SimulatorSettings(public_url="https://sim.example:9610/"))
    assert (
        app.state.vendor_state.urls.download("/a") == "https://sim.example:9610/attachment?file=/a"
    )


def test_package_exports() -> None:
    """The package exports create_app, serve and SimulatorSettings."""
    assert sorted(simulator_package.__all__) == ["SimulatorSettings", "create_app", "serve"]
