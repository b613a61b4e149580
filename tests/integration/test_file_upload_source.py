"""FileUpload.source_url through the handler and the pipeline, against the real simulator.

A local file server (tests/source_server.py) is the source; the tests that fetch from it turn
on ``allow_private`` (loopback), the test/dev-only switch.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.commands.handler import Account, CommandHandler
from gateway.commands.upload import FETCH_FAILED, SourcePolicy
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.messages.envelope import CommandEnvelope
from gateway.vendor_api import VendorClient
from tests.handler_support import handler_config
from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)
from tests.source_server import SourceServer

LOCAL = SourcePolicy(hosts=("127.0.0.1",), allow_http=True, allow_private=True)


async def _handler(
    vendor_client: VendorClient, tmp_path: Path, policy: SourcePolicy = LOCAL
) -> tuple[CommandHandler, SqliteIdempotencyStore]:
    store = await SqliteIdempotencyStore.open(tmp_path / f"{uuid.uuid4().hex}.db")
    account = Account("default", vendor_client)
    handler = CommandHandler(
        {"default": account},
        store,
        handler_config("gw:a", upload_source=policy),
    )
    return handler, store


def _upload(url: str, filename: str = "clip.mp4", **fields: Any) -> CommandEnvelope:
    return CommandEnvelope(
        id=str(uuid.uuid4()),
        type="FileUpload",
        payload={"filename": filename, "source_url": url},
        **fields,
    )


async def _uploads(sim: httpx.AsyncClient) -> list[dict[str, Any]]:
    state = (await sim.get("/_sim/state")).json()
    uploads: list[dict[str, Any]] = state["uploads"]
    return uploads


async def _upload_calls(sim: httpx.AsyncClient) -> int:
    return int((await sim.get("/_sim/calls")).json()["calls"].get("/uploadfile", 0))


async def test_upload_streams_the_file_and_a_redelivery_does_not_download_again(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The file reaches the vendor whole; the same command again is a replay: no second
    download (the claim comes before the fetch), no second upload."""
    handler, store = await _handler(vendor_client, tmp_path)
    async with SourceServer() as server:
        command = _upload(f"{server.url}/file/3000000")
        first = await handler.handle(command)
        again = await handler.handle(command)
    await handler.aclose()
    await store.close()
    assert first.status == "succeeded", first.error
    assert again.replayed
    assert len(server.requests) == 1
    assert await _upload_calls(sim) == 1
    assert [(u["path"], u["size"]) for u in await _uploads(sim)] == [
        ("/opt/data/resources/clip.mp4", 3_000_000)
    ]


async def test_a_failed_fetch_releases_the_claim(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The vendor was not called, so the key is released, not completed: the same command
    later fetches again and succeeds (no stored failure is replayed)."""
    handler, store = await _handler(vendor_client, tmp_path)
    server = SourceServer()
    await server.start()
    port = server.port
    await server.stop()  # nothing listens there now
    command = _upload(f"http://127.0.0.1:{port}/file/1000")
    failed = await handler.handle(command)
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.error_class, failed.error.message) == ("UploadSourceError", FETCH_FAILED)
    back = await SourceServer().start(port)
    retried = await handler.handle(command)
    await back.stop()
    await handler.aclose()
    await store.close()
    assert retried.status == "succeeded", retried.error
    assert not retried.replayed
    assert await _upload_calls(sim) == 1


async def test_source_url_is_off_by_default(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Without configured hosts a source_url command is rejected; nothing is fetched."""
    handler, store = await _handler(vendor_client, tmp_path, SourcePolicy())
    async with SourceServer() as server:
        result = await handler.handle(_upload(f"{server.url}/file/10"))
    await handler.aclose()
    await store.close()
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.error_class == "InvalidPayload"
    assert "not enabled" in result.error.message
    assert result.error.fields == [{"field": "payload.source_url", "reason": result.error.message}]
    assert server.requests == []
    assert await _upload_calls(sim) == 0


async def test_at_most_upload_concurrency_downloads_at_once(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Six uploads handled at once, two slots: the source never serves more than two."""
    policy = SourcePolicy(hosts=("127.0.0.1",), allow_http=True, allow_private=True, concurrency=2)
    handler, store = await _handler(vendor_client, tmp_path, policy)
    async with SourceServer() as server:
        results = await asyncio.gather(
            *(
                handler.handle(_upload(f"{server.url}/file/200000?delay=0.1", f"c{i}.mp4"))
                for i in range(6)
            )
        )
    await handler.aclose()
    await store.close()
    assert [r.status for r in results] == ["succeeded"] * 6
    assert server.max_active == 2
    assert await _upload_calls(sim) == 6


async def test_the_deadline_passes_while_waiting_for_a_slot(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """One slot busy with a slow download: a command whose deadline passes meanwhile fails
    DeadlineExpired without fetching."""
    policy = SourcePolicy(hosts=("127.0.0.1",), allow_http=True, allow_private=True, concurrency=1)
    handler, store = await _handler(vendor_client, tmp_path, policy)
    async with SourceServer() as server:
        slow = asyncio.create_task(handler.handle(_upload(f"{server.url}/file/10?delay=1")))
        await asyncio.sleep(0.1)
        deadline = datetime.now(UTC) + timedelta(seconds=0.3)
        late = await handler.handle(_upload(f"{server.url}/file/10", deadline=deadline))
        first = await slow
    await handler.aclose()
    await store.close()
    assert first.status == "succeeded"
    assert late.status == "failed"
    assert late.error is not None
    assert late.error.error_class == "DeadlineExpired"
    assert "upload slot" in late.error.message
    assert len(server.requests) == 1


async def test_unsafe_names_are_rejected_before_anything_is_fetched(
    vendor_client: VendorClient, sim: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A CRLF content_type, a traversing filename or path: rejected, listing the field;
    neither the source nor the vendor sees a request."""
    handler, store = await _handler(vendor_client, tmp_path)
    async with SourceServer() as server:
        url = f"{server.url}/file/10"
        cases = {
            "content_type": {"filename": "a.png", "content_type": "image/png\r\nX-Evil: 1"},
            "filename": {"filename": "../../a.png"},
            "path": {"filename": "a.png", "path": "/opt/data/../../etc"},
        }
        results = {}
        for field, payload in cases.items():
            command = CommandEnvelope(
                id=str(uuid.uuid4()), type="FileUpload", payload={**payload, "source_url": url}
            )
            results[field] = await handler.handle(command)
    await handler.aclose()
    await store.close()
    for field, result in results.items():
        assert result.status == "rejected", field
        assert result.error is not None
        assert result.error.fields is not None
        assert [f["field"] for f in result.error.fields] == [f"payload.{field}"]
    assert server.requests == []
    assert await _upload_calls(sim) == 0


async def test_pipeline_refuses_a_loopback_source_url(
    kafka_bootstrap: str, simulator_url: str, sim: httpx.AsyncClient
) -> None:
    """Through Kafka with the host allowed and http on, but private addresses refused (the
    default): a loopback source_url fails with the generic text, and no request reaches the
    local server or the vendor."""
    topics = await make_topics(kafka_bootstrap, "upload-ssrf", partitions=1)
    settings = gateway_settings(
        kafka_bootstrap,
        simulator_url,
        topics,
        upload_source_hosts=["127.0.0.1", "localhost"],
        upload_source_allow_http=True,
    )
    async with SourceServer() as server, running_gateway(settings):
        commands = [
            envelope("FileUpload", {"filename": "a.png", "source_url": f"{server.url}/file/10"}),
            envelope(
                "FileUpload",
                {"filename": "b.png", "source_url": f"http://localhost:{server.port}/status/404"},
            ),
        ]
        await produce(kafka_bootstrap, topics.commands, [(b"k", c) for c in commands])
        results = await read_results(kafka_bootstrap, topics.results, 2)
    assert len(results) == 2
    for result in results:
        data = result["data"]
        assert data["status"] == "failed"
        assert data["error"]["error_class"] == "UploadSourceError"
        assert data["error"]["message"] == FETCH_FAILED
        assert "download_url" not in (data.get("result") or {})
    assert server.requests == []
    assert await _upload_calls(sim) == 0
