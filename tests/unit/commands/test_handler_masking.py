"""The handler stores a mutation's outcome masked: the idempotency store never holds a secret."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.commands.handler import Account, CommandHandler
from gateway.idempotency import fingerprint, scope_key
from gateway.idempotency.sqlite_store import SqliteIdempotencyStore
from gateway.messages.envelope import CommandEnvelope
from tests.handler_support import handler_config

SECRET = "sip-Pa55word-never-stored"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")

    ret: int = 0
    msg: str = "success"


class _Client:
    """Answers every call with a vendor body that carries a password."""

    async def call(self, endpoint: Any, request: Any, budget: Any) -> _Answer:
        return _Answer.model_validate({"account": {"id": 7, "password": SECRET}})


async def test_stored_outcome_is_masked(tmp_path: Path) -> None:
    store = await SqliteIdempotencyStore.open(tmp_path / "idem.sqlite3")
    try:
        handler = CommandHandler(
            {"default": Account("default", _Client())},  # type: ignore[arg-type]
            store,
            handler_config("test"),
        )
        payload = {"sip_gate_id": 1, "name": "acct", "password": "x" * 8}
        command = CommandEnvelope.model_validate(
            {"id": "c-1", "type": "SipAccountCreate", "payload": payload}
        )
        result = await handler.handle(command)
        assert result.status == "succeeded"
        # The handler's own result keeps the answer; the event built from it is masked later.
        assert result.result == {"account": {"id": 7, "password": SECRET}}
        key = scope_key("default", command.effective_idempotency_key)
        claim = await store.claim(key, fingerprint(command.type, payload), "other", 30.0)
        assert claim.outcome is not None
        assert claim.outcome["result"] == {"account": {"id": 7, "password": "***"}}
        await handler.aclose()
    finally:
        await store.close()
    files = await asyncio.to_thread(lambda: [p.read_bytes() for p in tmp_path.iterdir()])
    assert files
    assert all(SECRET.encode() not in raw for raw in files)
