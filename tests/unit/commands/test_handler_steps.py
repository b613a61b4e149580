"""The handler's steps one by one, on fakes of the idempotency store and the vendor client:
the guard (claim, wait, replay, reject), the probe-or-reconcile step, the vendor call, and
the whole sequence (claim -> call -> store)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import BaseModel, ConfigDict

from gateway import retry
from gateway.commands.guard import Claimed, IdempotencyGuard
from gateway.commands.handler import Account, CommandHandler
from gateway.commands.reconcile import reconcile
from gateway.commands.vendor_call import call_vendor
from gateway.idempotency import Claim, ClaimState
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.results import ResultData
from gateway.ratelimit import Lane, RateLimitDeadlineError, RequestBudget
from gateway.settings import GatewaySettings, RetrySettings
from gateway.vendor_api import BY_COMMAND, VendorClient
from gateway.vendor_api.errors import VendorConnectionError, VendorTimeoutError, error_for_code
from tests.handler_support import handler_config

SETTINGS = GatewaySettings()


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")

    ret: int = 0
    msg: str = "success"


Reply = Callable[[], Any]  # returns the answer's fields, or raises


class FakeClient:
    """Answers by vendor path; records each call's path and budget."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, RequestBudget]] = []

    async def call(self, endpoint: Any, request: Any, budget: RequestBudget) -> _Answer:
        self.calls.append((endpoint.path, budget))
        return _Answer.model_validate(self.replies[endpoint.path]())

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


class FakeStore:
    """Answers ``claim`` from a script (the last answer repeats); records the rest."""

    def __init__(self, *claims: Claim) -> None:
        self.claims = list(claims)
        self.asked = 0
        self.completed: list[dict[str, Any]] = []
        self.released: list[str] = []
        self.renewed: list[tuple[str, str]] = []

    async def claim(self, key: str, fingerprint: str, owner: str, lease_s: float) -> Claim:
        self.asked += 1
        return self.claims.pop(0) if len(self.claims) > 1 else self.claims[0]

    async def renew(self, key: str, owner: str, lease_s: float) -> bool:
        self.renewed.append((key, owner))
        return True

    async def complete(
        self, key: str, owner: str, outcome: dict[str, Any], retention_s: float
    ) -> bool:
        self.completed.append(outcome)
        return True

    async def release(self, key: str, owner: str) -> None:
        self.released.append(key)

    async def close(self) -> None:
        pass


# Module-level commands are built at collection: their deadline must outlast the suite.
def _command(
    command_type: str, payload: dict[str, Any], deadline_in_s: float = 3600
) -> CommandEnvelope:
    deadline = datetime.now(UTC) + timedelta(seconds=deadline_in_s)
    return CommandEnvelope(id="c-1", type=command_type, payload=payload, deadline=deadline)


def _guard(store: FakeStore) -> IdempotencyGuard:
    return IdempotencyGuard(
        cast(Any, store),
        owner="gw:test",
        lease_s=30.0,
        retention_s=60.0,
        store_retry=retry.store_outcome(SETTINGS.retry),
    )


def _refusal(code: int) -> Reply:
    def refuse() -> Any:
        raise error_for_code(code, "refused", "/test")

    return refuse


def _ok(**fields: Any) -> Reply:
    return lambda: {"ret": 0, "msg": "success", **fields}


ROOM_DELETE = _command("RoomDelete", {"room_id": "12345123456"})
START_LIVE = _command("StartLive", {"room_id": "12345123456", "push_url": "rtmp://x/y"})
STORED = {
    "command_id": "c-0",
    "command_type": "RoomDelete",
    "idempotency_key": "c-1",
    "status": "succeeded",
    "endpoint": "/room/del",
    "vendor": {"ret": 0, "msg": "success"},
    "result": {},
    "attempts": 1,
}


# -- the guard -------------------------------------------------------------------------------


async def test_guard_claims_a_free_key() -> None:
    claimed = await _guard(FakeStore(Claim(ClaimState.CLAIMED))).claim(
        ROOM_DELETE, BY_COMMAND["RoomDelete"], None
    )
    assert isinstance(claimed, Claimed)
    assert not claimed.reclaimed


async def test_guard_waits_for_another_owner_then_replays_its_outcome() -> None:
    store = FakeStore(
        Claim(ClaimState.IN_FLIGHT), Claim(ClaimState.IN_FLIGHT), Claim(ClaimState.DONE, STORED)
    )
    with retry.testing():
        result = await _guard(store).claim(ROOM_DELETE, BY_COMMAND["RoomDelete"], None)
    assert isinstance(result, ResultData)
    assert (result.status, result.replayed, result.command_id) == ("succeeded", True, "c-1")
    assert store.asked == 3


async def test_guard_rejects_a_key_reused_with_another_payload() -> None:
    result = await _guard(FakeStore(Claim(ClaimState.CONFLICT))).claim(
        ROOM_DELETE, BY_COMMAND["RoomDelete"], None
    )
    assert isinstance(result, ResultData)
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.error_class == "IdempotencyKeyReused"


async def test_guard_gives_up_waiting_at_the_deadline() -> None:
    """Another owner never finishes: the command fails when its deadline passes, unsent."""
    command = _command("RoomDelete", {"room_id": "12345123456"}, deadline_in_s=0.2)
    store = FakeStore(Claim(ClaimState.IN_FLIGHT))
    started = time.monotonic()
    with retry.testing(wait=0.01):
        result = await _guard(store).claim(command, BY_COMMAND["RoomDelete"], None)
    assert isinstance(result, ResultData)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_class == "DeadlineExpired"
    assert "another owner" in result.error.message
    assert 0.1 < time.monotonic() - started < 2.0
    assert store.asked > 2


async def test_one_keeper_renews_every_held_claim_until_released() -> None:
    """Claims held are renewed each third of the lease by one task, which ends when none is
    held; a claim let go is not renewed again."""
    store = FakeStore(Claim(ClaimState.CLAIMED))
    guard = IdempotencyGuard(
        cast(Any, store),
        owner="gw:test",
        lease_s=0.15,
        retention_s=60.0,
        store_retry=retry.store_outcome(SETTINGS.retry),
    )
    first, second = Claimed("k1", "gw:test/c1", False), Claimed("k2", "gw:test/c2", False)
    async with guard.heartbeat(first):
        async with guard.heartbeat(second):
            await asyncio.sleep(0.2)
        assert {("k1", "gw:test/c1"), ("k2", "gw:test/c2")} <= set(store.renewed)
        store.renewed.clear()
        await asyncio.sleep(0.12)
        assert set(store.renewed) == {("k1", "gw:test/c1")}
    keeper = guard._keeper
    assert keeper is not None
    await asyncio.wait_for(keeper, 1.0)  # ends on its own once nothing is held
    await guard.aclose()


def test_guard_reconciles_a_key_it_took_to_the_vendor_unsettled() -> None:
    guard = _guard(FakeStore(Claim(ClaimState.CLAIMED)))
    claimed = Claimed("k", "gw:test/c-1", reclaimed=False)
    assert guard.to_vendor(claimed) is False
    assert guard.to_vendor(claimed) is True  # no outcome stored in between
    assert guard.to_vendor(Claimed("k2", "o", reclaimed=True)) is True


# -- probe or reconcile ------------------------------------------------------------------------


async def test_probe_reports_work_already_done_without_a_call() -> None:
    client = FakeClient({"/room/mix_live/get": _ok(live={"state": "on"})})
    budget = RequestBudget(Lane.COMMANDS, START_LIVE.deadline_ts)
    endpoint = BY_COMMAND["StartLive"]
    result = await reconcile(START_LIVE, endpoint, cast(VendorClient, client), budget)
    assert result is not None
    assert result.status == "succeeded"
    assert result.result is not None
    assert result.result["reconciled"] is True
    assert client.paths == ["/room/mix_live/get"]


async def test_probe_that_finds_nothing_done_goes_on_to_the_call() -> None:
    client = FakeClient({"/room/mix_live/get": _refusal(40041)})
    budget = RequestBudget(Lane.COMMANDS, START_LIVE.deadline_ts)
    endpoint = BY_COMMAND["StartLive"]
    assert await reconcile(START_LIVE, endpoint, cast(VendorClient, client), budget) is None


async def test_a_refusal_that_means_already_done_is_reconciled() -> None:
    refusal = error_for_code(40004, "no such room", "/room/del")
    budget = RequestBudget(Lane.COMMANDS, ROOM_DELETE.deadline_ts)
    endpoint = BY_COMMAND["RoomDelete"]
    client = cast(VendorClient, FakeClient({}))
    result = await reconcile(ROOM_DELETE, endpoint, client, budget, refusal, attempts=1)
    assert result is not None
    assert (result.status, result.attempts) == ("succeeded", 1)
    assert result.vendor is not None
    assert result.vendor.ret == 40004


@pytest.mark.parametrize("refused", [False, True])
async def test_probe_and_reconcile_read_within_the_commands_deadline(refused: bool) -> None:
    """Both ways of reconciling read on the command's budget: its lane and its deadline."""
    client = FakeClient({"/room/mix_live/get": _ok(live={"state": "on"})})
    budget = RequestBudget(Lane.COMMANDS, START_LIVE.deadline_ts)
    refusal = error_for_code(40060, "live exists", "/room/mix_live/start") if refused else None
    endpoint = BY_COMMAND["StartLive"]
    vendor = cast(VendorClient, client)
    result = await reconcile(START_LIVE, endpoint, vendor, budget, refusal)
    assert result is not None
    assert result.status == "succeeded"
    assert [b for _, b in client.calls] == [RequestBudget(Lane.COMMANDS, START_LIVE.deadline_ts)]


async def test_a_read_past_the_deadline_means_cannot_tell() -> None:
    def late() -> Any:
        raise RateLimitDeadlineError("the next slot is after the deadline")

    client = FakeClient({"/room/mix_live/get": late})
    budget = RequestBudget(Lane.COMMANDS, START_LIVE.deadline_ts)
    endpoint = BY_COMMAND["StartLive"]
    assert await reconcile(START_LIVE, endpoint, cast(VendorClient, client), budget) is None


# -- the vendor call ---------------------------------------------------------------------------


async def test_vendor_call_retries_transient_errors_and_counts_attempts() -> None:
    answers = iter([_refusal(41003), _refusal(41003), _ok(room_id="1")])
    client = FakeClient({"/room/del": lambda: next(answers)()})
    budget = RequestBudget(Lane.COMMANDS, ROOM_DELETE.deadline_ts)
    policy = retry.vendor_calls(RetrySettings(max_attempts=5))
    endpoint = BY_COMMAND["RoomDelete"]
    with retry.testing():
        result = await call_vendor(
            ROOM_DELETE, endpoint, cast(VendorClient, client), cast(Any, None), budget, policy
        )
    assert (result.status, result.attempts) == ("succeeded", 3)
    assert all(b == budget for _, b in client.calls)


async def test_vendor_call_past_the_deadline_fails_as_expired() -> None:
    def late() -> Any:
        raise RateLimitDeadlineError("the next slot is after the deadline")

    client = FakeClient({"/room/del": late})
    budget = RequestBudget(Lane.COMMANDS, ROOM_DELETE.deadline_ts)
    result = await call_vendor(
        ROOM_DELETE,
        BY_COMMAND["RoomDelete"],
        cast(VendorClient, client),
        cast(Any, None),
        budget,
        retry.vendor_calls(SETTINGS.retry),
    )
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_class == "DeadlineExpired"


ROOM_CREATE = _command("RoomCreate", {"topic": "t", "room_id": "12345123456"})
CREATE, READ = BY_COMMAND["RoomCreate"].path, BY_COMMAND["RoomRead"].path


def _lost(path: str, error: type[Exception] = VendorTimeoutError) -> Reply:
    def lose() -> Any:
        raise error(f"lost answer of {path}", endpoint=path)

    return lose


def _script(*replies: Reply) -> Reply:
    """The replies in turn (the last one repeats)."""
    left = list(replies)

    def reply() -> Any:
        return (left.pop(0) if len(left) > 1 else left[0])()

    return reply


async def _create(client: FakeClient) -> ResultData:
    budget = RequestBudget(Lane.COMMANDS, ROOM_CREATE.deadline_ts)
    policy = retry.vendor_calls(RetrySettings(max_attempts=6))
    endpoint = BY_COMMAND["RoomCreate"]
    with retry.testing():
        return await call_vendor(
            ROOM_CREATE, endpoint, cast(VendorClient, client), cast(Any, None), budget, policy
        )


@pytest.mark.parametrize("error", [VendorTimeoutError, VendorConnectionError])
async def test_a_mutation_whose_answer_was_lost_is_probed_not_sent_again(
    error: type[Exception],
) -> None:
    client = FakeClient({CREATE: _lost(CREATE, error), READ: _ok(room_id="12345123456")})
    result = await _create(client)
    assert result.status == "succeeded"
    assert result.result is not None
    assert result.result["reconciled"] is True
    assert client.paths == [CREATE, READ]  # never a second /room/create


async def test_a_probe_that_cannot_tell_is_asked_again_before_any_repeat() -> None:
    reads = _script(_lost(READ), _lost(READ), _ok(room_id="12345123456"))
    client = FakeClient({CREATE: _lost(CREATE), READ: reads})
    result = await _create(client)
    assert result.status == "succeeded"
    assert client.paths == [CREATE, READ, READ, READ]


async def test_a_lost_answer_the_probe_finds_not_done_is_sent_again() -> None:
    client = FakeClient(
        {CREATE: _script(_lost(CREATE), _ok(room_id="12345123456")), READ: _refusal(40004)}
    )
    result = await _create(client)
    assert result.status == "succeeded"
    assert client.paths == [CREATE, READ, CREATE]


async def test_a_refused_repeat_after_a_lost_answer_is_reconciled() -> None:
    # RoomDelete has no probe: it is sent again, and "no such room" means done.
    client = FakeClient({"/room/del": _script(_lost("/room/del"), _refusal(40004))})
    budget = RequestBudget(Lane.COMMANDS, ROOM_DELETE.deadline_ts)
    with retry.testing():
        result = await call_vendor(
            ROOM_DELETE,
            BY_COMMAND["RoomDelete"],
            cast(VendorClient, client),
            cast(Any, None),
            budget,
            retry.vendor_calls(RetrySettings(max_attempts=5)),
        )
    assert result.status == "succeeded"
    assert client.paths == ["/room/del", "/room/del"]


async def test_a_token_fetch_timeout_does_not_make_a_mutation_uncertain() -> None:
    create = _script(_lost("/app/get_token"), _ok(room_id="12345123456"))
    client = FakeClient({CREATE: create})
    result = await _create(client)
    assert result.status == "succeeded"
    assert client.paths == [CREATE, CREATE]


# -- the sequence ------------------------------------------------------------------------------


def _handler(store: FakeStore, client: FakeClient) -> CommandHandler:
    account = Account("default", cast(VendorClient, client))
    return CommandHandler({"default": account}, cast(Any, store), handler_config("gw:test"))


async def test_a_mutation_is_claimed_called_once_and_its_outcome_stored() -> None:
    store = FakeStore(Claim(ClaimState.CLAIMED))
    client = FakeClient({"/room/del": _ok()})
    result = await _handler(store, client).handle(ROOM_DELETE)
    assert result.status == "succeeded"
    assert client.calls == [("/room/del", RequestBudget(Lane.COMMANDS, ROOM_DELETE.deadline_ts))]
    assert [o["status"] for o in store.completed] == ["succeeded"]


async def test_a_reclaimed_mutation_the_probe_finds_done_is_not_sent_again() -> None:
    store = FakeStore(Claim(ClaimState.CLAIMED, reclaimed=True))
    client = FakeClient({"/room/mix_live/get": _ok(live={"state": "on"})})
    result = await _handler(store, client).handle(START_LIVE)
    assert result.status == "succeeded"
    assert result.result is not None
    assert result.result["reconciled"] is True
    assert client.paths == ["/room/mix_live/get"]  # never /room/mix_live/start
    assert len(store.completed) == 1


async def test_a_reclaimed_mutation_the_vendor_calls_already_done_is_reconciled() -> None:
    store = FakeStore(Claim(ClaimState.CLAIMED, reclaimed=True))
    client = FakeClient({"/room/del": _refusal(40004)})
    result = await _handler(store, client).handle(ROOM_DELETE)
    assert result.status == "succeeded"
    assert result.vendor is not None
    assert result.vendor.ret == 40004
    assert client.paths == ["/room/del"]


async def test_the_same_refusal_without_a_reclaim_is_a_failure() -> None:
    store = FakeStore(Claim(ClaimState.CLAIMED))
    client = FakeClient({"/room/del": _refusal(40004)})
    result = await _handler(store, client).handle(ROOM_DELETE)
    assert result.status == "failed"


async def test_a_replay_never_calls_the_vendor() -> None:
    store = FakeStore(Claim(ClaimState.DONE, STORED))
    client = FakeClient({})
    result = await _handler(store, client).handle(ROOM_DELETE)
    assert result.replayed
    assert client.calls == []
    assert store.completed == []


async def test_a_query_takes_no_claim() -> None:
    store = FakeStore(Claim(ClaimState.CONFLICT))
    client = FakeClient({"/room/list": _ok(rooms=[])})
    result = await _handler(store, client).handle(_command("RoomList", {}))
    assert result.status == "succeeded"
    assert store.asked == 0
