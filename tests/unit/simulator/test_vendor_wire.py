"""Parameter parsing and answer envelopes of the simulated vendor."""

from __future__ import annotations

from .vendor_client import VendorClient


async def test_missing_required_parameter_names_it(vendor: VendorClient) -> None:
    """A missing required parameter answers 40002 "arg <name> required"."""
    assert await vendor.call("/room/create") == {"ret": 40002, "msg": "arg topic required"}


async def test_empty_required_string_counts_as_missing(vendor: VendorClient) -> None:
    """An empty value of a required string is as good as none."""
    answer = await vendor.call("/room/create", topic="")
    assert answer == {"ret": 40002, "msg": "arg topic required"}


async def test_unparseable_int_is_an_argument_error(vendor: VendorClient) -> None:
    """A non-numeric int answers 40002 "args required or error"."""
    answer = await vendor.call("/room/get_statistic", start_time="yesterday", end_time=1)
    assert answer == {"ret": 40002, "msg": "args required or error"}


async def test_booleans_accept_true_false_and_1_0(vendor: VendorClient) -> None:
    """true/false and 1/0 are booleans; anything else is 40002."""
    await vendor.call("/room/create", topic="t", room_id="r1", enable_auto_avc="1")
    await vendor.call("/room/create", topic="t", room_id="r2", enable_auto_avc="TRUE")
    assert vendor.state.rooms.find("r1").enable_auto_avc is True
    assert vendor.state.rooms.find("r2").enable_auto_avc is True
    answer = await vendor.call("/room/create", topic="t", room_id="r3", enable_auto_avc="yes")
    assert answer["ret"] == 40002


async def test_json_parameters_must_parse(vendor: VendorClient) -> None:
    """A json-string parameter that is no JSON is 40002."""
    await vendor.call("/room/create", topic="t", room_id="r1")
    await vendor.call("/room/avc/start", room_id="r1", max_video_number=2, layout_mode=0)
    answer = await vendor.call("/room/avc/select_media", room_id="r1", videos="[{oops")
    assert answer == {"ret": 40002, "msg": "args required or error"}


async def test_get_reads_the_query_string(vendor: VendorClient) -> None:
    """GET carries the parameters in the query string."""
    answer = await vendor.call("/room/create", "GET", topic="t", room_id="g1")
    assert answer == {"ret": 0, "msg": "success", "room_id": "g1"}


async def test_post_accepts_query_parameters_and_the_body_wins(vendor: VendorClient) -> None:
    """On POST, query parameters are read too; the form body overrides them."""
    response = await vendor.http.post(
        "/sdkapi/v2/room/create",
        params={"token": vendor.token, "topic": "from-query", "room_id": "q1"},
        data={"topic": "from-body"},
    )
    assert response.json()["room_id"] == "q1"
    assert vendor.state.rooms.find("q1").topic == "from-body"


async def test_parameter_names_are_stripped(vendor: VendorClient) -> None:
    """The reference's own example sends "%20video_resolution"; the name still counts."""
    url = f"/sdkapi/v2/room/create?token={vendor.token}&topic=t&%20room_id=s1"
    assert (await vendor.http.get(url)).json()["room_id"] == "s1"


async def test_unknown_parameters_are_ignored(vendor: VendorClient) -> None:
    """Undocumented parameters (the reference's examples pass some) do no harm."""
    gate = await vendor.call("/sip/gate/create", name="g", url="1.2.3.4:5060")
    answer = await vendor.call(
        "/sip/account/create", sip_gate_id=gate["gate_id"], name="1001", password="p", number=23
    )
    assert answer["ret"] == 0


async def test_get_only_endpoints_refuse_post(vendor: VendorClient) -> None:
    """/room/room_lock and /room/mix_live/get are GET only (405 on POST)."""
    for path in ("/room/room_lock", "/room/mix_live/get"):
        assert (await vendor.raw(path, "POST")).status_code == 405


async def test_uploadfile_is_post_only(vendor: VendorClient) -> None:
    """/uploadfile answers 405 to GET."""
    assert (await vendor.http.get("/uploadfile")).status_code == 405


async def test_answers_are_json_over_http_200(vendor: VendorClient) -> None:
    """Errors travel in the body of an HTTP 200 JSON answer."""
    response = await vendor.raw("/room/read", room_id="nope")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ret": 40004, "msg": "no such room"}


async def test_code_endpoints_use_code_for_argument_errors(vendor: VendorClient) -> None:
    """The three quirk endpoints report 40002 under "code" as well."""
    answer = await vendor.call("/room/participate/list")
    assert answer == {"code": 40002, "msg": "arg room_id required"}


async def test_vendor_paths_live_under_the_prefix(vendor: VendorClient) -> None:
    """Vendor paths without /sdkapi/v2 do not exist (except the two root ones)."""
    response = await vendor.http.get("/room/list", params={"token": vendor.token})
    assert response.status_code == 404


async def test_get_token_refuses_wrong_keys(vendor: VendorClient) -> None:
    """Wrong keys are 40001 (the table's code, not the example's 401)."""
    answer = await vendor.call(
        "/app/get_token", token=None, access_key="demo_access", secret_key="wrong"
    )
    assert answer == {"ret": 40001, "msg": "Authenticate failed, access_key or secret_key error"}


async def test_get_token_success_has_no_msg(vendor: VendorClient) -> None:
    """As in the reference, a token answer is just ret and token."""
    answer = await vendor.call(
        "/app/get_token", "GET", token=None, access_key="demo_access", secret_key="demo_secret"
    )
    assert set(answer) == {"ret", "token"}
    assert answer["token"] != vendor.token


async def test_multipart_parameters_work_on_any_endpoint(vendor: VendorClient) -> None:
    """A multipart body is read like a form body."""
    response = await vendor.http.post(
        "/sdkapi/v2/room/create",
        files={"token": (None, vendor.token), "topic": (None, "t"), "room_id": (None, "m1")},
    )
    assert response.json()["room_id"] == "m1"


async def test_token_is_required_with_a_valid_value(vendor: VendorClient) -> None:
    """An httpx client without the token parameter gets 40003."""
    response = await vendor.http.get("/sdkapi/v2/room/list")
    assert response.json() == {"ret": 40003, "msg": "access token check invalid"}


async def test_double_slash_after_the_prefix_is_folded(vendor: VendorClient) -> None:
    """The reference's example URL /sdkapi/v2//room/... reaches the endpoint."""
    response = await vendor.http.get("/sdkapi/v2//room/list", params={"token": vendor.token})
    assert response.json()["ret"] == 0
