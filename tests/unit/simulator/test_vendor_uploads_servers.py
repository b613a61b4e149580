"""Uploads and attachments, media-server user counts, licence and system information."""

from __future__ import annotations

import httpx

from .vendor_client import VendorClient


async def upload(
    vendor: VendorClient, name: str, data: bytes = b"data", **form: str
) -> httpx.Response:
    """POST /uploadfile as multipart with the current token."""
    return await vendor.http.post(
        "/uploadfile", data={"token": vendor.token, **form}, files={"file": (name, data)}
    )


async def test_upload_and_download(vendor: VendorClient) -> None:
    """An uploaded png is kept in memory and served back by /attachment."""
    response = await upload(vendor, "logo.png", b"\x89PNG")
    answer = response.json()
    assert answer["ret"] == 0
    assert (
        answer["download_url"]
        == "http://127.0.0.1:9610/attachment?file=/opt/data/resources/logo.png"
    )
    download = await vendor.http.get("/attachment", params={"file": "/opt/data/resources/logo.png"})
    assert download.status_code == 200
    assert download.content == b"\x89PNG"
    assert download.headers["content-type"] == "image/png"


async def test_upload_honours_path(vendor: VendorClient) -> None:
    """The path parameter chooses the directory."""
    answer = (await upload(vendor, "clip.MP4", path="/data/x/")).json()
    assert answer["download_url"].endswith("file=/data/x/clip.MP4")


async def test_unsupported_file_type_is_10911(vendor: VendorClient) -> None:
    """Only png, jpg, mp3, mp4 and avi are taken (10911 otherwise)."""
    for name, extension in (("ext.crx", "crx"), ("setup.exe", "exe"), ("noext", "")):
        answer = (await upload(vendor, name)).json()
        assert answer == {"ret": 10911, "msg": f"not support file type: {extension}"}


async def test_upload_without_file_or_token(vendor: VendorClient) -> None:
    """A missing file part is 40002; a missing token 40003."""
    response = await vendor.http.post("/uploadfile", data={"token": vendor.token})
    assert response.json() == {"ret": 40002, "msg": "arg file required"}
    response = await vendor.http.post("/uploadfile", files={"file": ("a.png", b"x")})
    assert response.json()["ret"] == 40003


async def test_attachment_of_unknown_file_is_10913(vendor: VendorClient) -> None:
    """Downloading what does not exist answers 10913."""
    answer = (await vendor.http.get("/attachment", params={"file": "/nope.mp4"})).json()
    assert answer == {"ret": 10913, "msg": "fail to Attachment, Cannot find file."}


async def test_user_count_per_media_server(vendor: VendorClient) -> None:
    """Counts follow the participants of open rooms on each server."""
    empty = await vendor.call("/media_server/user_count")
    assert empty == {
        "ret": 0,
        "msg": "success",
        "server_user_count": [{"server_id": "box1", "user_count": 0}],
    }
    await vendor.sim("POST", "/rooms", {"room_id": "r1", "server_id": "box2"})
    for user in ("a", "b"):
        await vendor.sim("POST", "/rooms/r1/participants", {"user_id": user})
    await vendor.sim("POST", "/rooms/r2/participants", {"user_id": "c"})
    counts = (await vendor.call("/media_server/user_count"))["server_user_count"]
    assert counts == [
        {"server_id": "box1", "user_count": 1},
        {"server_id": "box2", "user_count": 2},
    ]


async def test_user_count_set_by_scenario(vendor: VendorClient) -> None:
    """A count set through the scenario API wins until set back to null."""
    await vendor.sim("PUT", "/media_servers/box1", {"user_count": 42})
    counts = (await vendor.call("/media_server/user_count"))["server_user_count"]
    assert counts == [{"server_id": "box1", "user_count": 42}]
    await vendor.sim("PUT", "/media_servers/box1", {"user_count": None})
    counts = (await vendor.call("/media_server/user_count"))["server_user_count"]
    assert counts == [{"server_id": "box1", "user_count": 0}]


async def test_no_media_server_online_is_11003(vendor: VendorClient) -> None:
    """With every server offline (or removed) the answer is 11003."""
    await vendor.sim("PUT", "/media_servers/box1", {"online": False})
    answer = await vendor.call("/media_server/user_count")
    assert answer == {"ret": 11003, "msg": "have no media server is online"}
    assert (await vendor.sim("DELETE", "/media_servers/box1")).status_code == 200
    assert (await vendor.sim("DELETE", "/media_servers/box1")).status_code == 404


async def test_licence_counts_active_users(vendor: VendorClient) -> None:
    """active_usernum counts users in open rooms; max_users comes from the settings."""
    await vendor.sim("POST", "/rooms/r1/participants", {"user_id": "a"})
    answer = await vendor.call("/app/get_licence_info")
    assert answer == {"ret": 0, "msg": "success", "active_usernum": 1, "max_users": 500}


async def test_file_permits(vendor: VendorClient) -> None:
    """A permit can be deleted once applied (40072 otherwise)."""
    assert (await vendor.call("/app/apply_file_permit", licence_cert="abc"))["ret"] == 0
    assert (await vendor.call("/app/delete_file_permit", licence_cert="abc"))["ret"] == 0
    answer = await vendor.call("/app/delete_file_permit", licence_cert="abc")
    assert answer == {"ret": 40072, "msg": "no licence info"}


async def test_system_info_is_stable(vendor: VendorClient) -> None:
    """sys_info is an opaque hex string that does not change between calls."""
    first = (await vendor.call("/app/get_system_info"))["sys_info"]
    assert first == (await vendor.call("/app/get_system_info"))["sys_info"]
    assert len(first) == 256
    int(first, 16)
