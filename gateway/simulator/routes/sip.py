"""``/sip/gate/*`` and ``/sip/account/*``."""

from __future__ import annotations

from ..state import VendorState
from ..wire import Answer, Args, EndpointTable, integer, ok, text

__all__ = ["table"]

table = EndpointTable()


@table.endpoint("/sip/gate/create", text("name", True), text("url", True))
def gate_create(state: VendorState, args: Args) -> Answer:
    """A new gate (its id comes back as ``gate_id``); 40019 when the url exists."""
    gate = state.sip.create_gate(args["name"], args["url"])
    return {"msg": "success", "ret": 0, "url": gate.url, "name": gate.name, "gate_id": gate.id}


@table.endpoint(
    "/sip/gate/update",
    integer("sip_gate_id", True),
    text("name", True),
    text("url", True),
    text("status", True),
)
def gate_update(state: VendorState, args: Args) -> Answer:
    """Change a gate; 40020 unknown gate, 40019 url taken, 40002 status not "0"/"1"."""
    state.sip.update_gate(args["sip_gate_id"], args["name"], args["url"], args["status"])
    return ok()


@table.endpoint("/sip/gate/del", integer("sip_gate_id", True))
def gate_delete(state: VendorState, args: Args) -> Answer:
    """Delete a gate and its accounts; 40020 unknown gate."""
    state.sip.delete_gate(args["sip_gate_id"])
    return ok()


@table.endpoint("/sip/gate/list")
def gate_list(state: VendorState, args: Args) -> Answer:
    """All gates (their id is ``id`` here)."""
    return {"sip_gates": [g.answer() for g in state.sip.gates()], "msg": "success", "ret": 0}


_ACCOUNT_OPTIONS = (
    text("recv_audio_codec"),
    text("send_audio_codec"),
    text("bind_media_server"),
    text("is_default"),
)


def _options(args: Args) -> dict[str, str | None]:
    return {p.name: args[p.name] for p in _ACCOUNT_OPTIONS}


@table.endpoint(
    "/sip/account/create",
    integer("sip_gate_id", True),
    text("name", True),
    text("password", True),
    *_ACCOUNT_OPTIONS,
)
def account_create(state: VendorState, args: Args) -> Answer:
    """A new account; 40020 unknown gate, 40021 name taken on the gate, 40002 bad codec."""
    account = state.sip.create_account(
        args["sip_gate_id"], args["name"], args["password"], **_options(args)
    )
    return {
        "account_id": account.account_id,
        "msg": "success",
        "ret": 0,
        "name": account.name,
        "sip_gate_id": account.gate_id,
    }


@table.endpoint(
    "/sip/account/update",
    integer("account_id", True),
    text("name", True),
    text("password", True),
    *_ACCOUNT_OPTIONS,
)
def account_update(state: VendorState, args: Args) -> Answer:
    """Change an account; 40022 unknown account."""
    state.sip.update_account(args["account_id"], args["name"], args["password"], **_options(args))
    return ok()


@table.endpoint("/sip/account/read", integer("sip_gate_id", True), integer("account_id"))
def account_read(state: VendorState, args: Args) -> Answer:
    """A gate's accounts (or one); 40020 unknown gate, 40022 unknown account."""
    accounts = state.sip.accounts(args["sip_gate_id"], args["account_id"])
    return {"accounts": [a.answer() for a in accounts], "msg": "success", "ret": 0}


@table.endpoint("/sip/account/del", integer("account_id", True))
def account_delete(state: VendorState, args: Args) -> Answer:
    """Delete an account; 40022 unknown account."""
    state.sip.delete_account(args["account_id"])
    return ok()
