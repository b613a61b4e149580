"""Reconciliation after a crash between the vendor call and the stored outcome.

When a command reclaims a key whose earlier owner died mid-flight, the vendor may already
have done the work. Two tools, both used only after our own unfinished claim:

* a **probe** before calling again, where the vendor offers a read that tells whether the
  work is done: then the result is "succeeded" and the mutation is *not* sent a second time;
* the **codes** after calling again: the non-idempotent vendor refuses a repeat with a
  "state" error, which here means "already done" (outside a reclaim it is a real failure).

| command | probe before calling again | vendor answer on repeat -> succeeded |
|---|---|---|
| RoomCreate (with room_id) | RoomRead answers ret 0 | 40005 room id exists, then RoomRead |
| SipGateCreate | SipGateList has the url | 40019 sip gate url exists, then SipGateList |
| StartRecording | RecordingGet answers ret 0 | 40040, then RecordingGet |
| StartLive | LiveGet answers ret 0 | 40040 / 40060, then LiveGet |

| command | vendor answer on repeat | how it is reconciled |
|---|---|---|
| StartAvc | 40050 already avc | AvcSettingGet -> succeeded |
| MediaCreate | 40080 media exists | succeeded |
| StopRecording, StopLive, StopDesktopRecording | 40041, 40061, 40065 not started | done |
| StopAvc | 40051 avc not set | succeeded |
| RoomDelete, RoomClose | 40004 no such room | succeeded |
| ParticipantKick, KickDevice | 40008 user not in room | succeeded |
| SipGateDelete / SipAccountDelete | 40020 / 40022 no such gate / account | succeeded |
| InviteDevice | 40031 user is in room | succeeded |

Everything else is not reconciled: a RoomCreate without room_id (the vendor picks the id),
RoomUpdate and the layout/mute/focus commands (repeating them is harmless: they set state),
uploads and the remaining mutations are simply called again.

:func:`reconcile` is the one step that uses the table, for both tools: before calling again
(``refusal`` None: the probe) and after the vendor refused the repeat (``refusal``: the
code). Its reads are vendor requests like any other: on the command's budget (the commands
lane and the command's deadline), so a reconciliation never outlives the command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.commands import results
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.results import ResultData, VendorStatus
from gateway.ratelimit import RateLimitDeadlineError, RequestBudget
from gateway.vendor_api import BY_COMMAND, Endpoint, VendorClient
from gateway.vendor_api.errors import VendorAPIError, VendorError

__all__ = ["RECONCILERS", "Reconciler", "probe_after_lost_answer", "reconcile"]

log = logging.getLogger("gateway.commands")

Reader = Callable[
    [VendorClient, Mapping[str, Any], RequestBudget], Awaitable[dict[str, Any] | None]
]


async def _read(
    client: VendorClient, command_type: str, payload: Mapping[str, Any], budget: RequestBudget
) -> dict[str, Any]:
    endpoint = BY_COMMAND[command_type]
    fields = endpoint.request_model.model_fields
    request = endpoint.request_model.model_validate(
        {k: v for k, v in payload.items() if k in fields}
    )
    answer = await client.call(endpoint, request, budget)
    dumped: dict[str, Any] = answer.model_dump(exclude_none=True)
    return dumped


def _reader(command_type: str) -> Reader:
    async def read(
        client: VendorClient, payload: Mapping[str, Any], budget: RequestBudget
    ) -> dict[str, Any] | None:
        return await _read(client, command_type, payload, budget)

    return read


async def _sip_gate_probe(
    client: VendorClient, payload: Mapping[str, Any], budget: RequestBudget
) -> dict[str, Any] | None:
    listing = await _read(client, "SipGateList", {}, budget)
    gates = listing.get("sip_gates") or listing.get("data") or []
    for gate in gates if isinstance(gates, list) else []:
        if isinstance(gate, dict) and gate.get("url") == payload.get("url"):
            return gate
    return None


async def _sip_gate_by_url(
    client: VendorClient, payload: Mapping[str, Any], budget: RequestBudget
) -> dict[str, Any] | None:
    """After a 40019 repeat: the gate with the url if the list shows it, else the whole list."""
    return await _sip_gate_probe(client, payload, budget) or await _read(
        client, "SipGateList", {}, budget
    )


@dataclass(frozen=True, slots=True)
class Reconciler:
    """How to tell "already done" after our own unfinished claim.

    ``probe`` returns the current state if the work is done (None if not; a vendor error
    also means not done); ``codes`` are the refusals that mean "already done" after a repeat,
    with ``read`` to fetch the state to report.
    """

    codes: frozenset[int]
    read: Reader | None = None
    requires: tuple[str, ...] = ()  # payload fields without which nothing can be reconciled
    probe: Reader | None = None


RECONCILERS: dict[str, Reconciler] = {
    "RoomCreate": Reconciler(
        frozenset({40005}), _reader("RoomRead"), ("room_id",), probe=_reader("RoomRead")
    ),
    "SipGateCreate": Reconciler(frozenset({40019}), _sip_gate_by_url, probe=_sip_gate_probe),
    "StartRecording": Reconciler(
        frozenset({40040}), _reader("RecordingGet"), probe=_reader("RecordingGet")
    ),
    "StartLive": Reconciler(
        frozenset({40040, 40060}), _reader("LiveGet"), probe=_reader("LiveGet")
    ),
    "StartAvc": Reconciler(frozenset({40050}), _reader("AvcSettingGet")),
    "MediaCreate": Reconciler(frozenset({40080})),
    "StopRecording": Reconciler(frozenset({40041})),
    "StopLive": Reconciler(frozenset({40041, 40061, 40065})),
    "StopDesktopRecording": Reconciler(frozenset({40041})),
    "StopAvc": Reconciler(frozenset({40051})),
    "RoomDelete": Reconciler(frozenset({40004})),
    "RoomClose": Reconciler(frozenset({40004})),
    "ParticipantKick": Reconciler(frozenset({40008})),
    "KickDevice": Reconciler(frozenset({40008})),
    "SipGateDelete": Reconciler(frozenset({40020})),
    "SipAccountDelete": Reconciler(frozenset({40022})),
    "InviteDevice": Reconciler(frozenset({40031})),
}


async def reconcile(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    client: VendorClient,
    budget: RequestBudget,
    refusal: VendorAPIError | None = None,
    attempts: int = 0,
) -> ResultData | None:
    """After our own unfinished claim: the "already done" result, or None to go on as usual.

    ``refusal`` None: before calling again, probe whether the work is done (a state means
    yes). ``refusal``: the vendor refused the repeat with this error; its code in the table
    means done, and the state to report is read if the table says how. A vendor error or a
    rate-limit slot past the deadline while reading means "cannot tell": None.
    """
    rule = RECONCILERS.get(command.type)
    if rule is None:
        return None
    read = rule.probe if refusal is None else rule.read
    if refusal is None and read is None:
        return None  # nothing to probe: call again (the refusal, if any, is reconciled then)
    if refusal is not None and refusal.code not in rule.codes:
        return None
    if any(command.payload.get(f) in (None, "") for f in rule.requires):
        return None
    state: dict[str, Any] | None = None
    if read is not None:
        try:
            state = await read(client, command.payload, budget)
        except (VendorError, RateLimitDeadlineError):
            return None
    if refusal is None:
        if state is None:
            return None  # the probe found the work not done
        log.info("reconciled %s %s by probe after an unfinished claim", command.type, command.id)
        return results.reconciled(
            command, endpoint, VendorStatus(ret=0, msg="success"), state, attempts=0
        )
    log.info(
        "reconciled %s %s after an unfinished claim (vendor said %s)",
        command.type,
        command.id,
        refusal.code,
    )
    vendor = VendorStatus(ret=refusal.code, msg=refusal.vendor_msg)
    return results.reconciled(command, endpoint, vendor, state, attempts)


async def probe_after_lost_answer(
    command: CommandEnvelope,
    endpoint: Endpoint[Any, Any],
    client: VendorClient,
    budget: RequestBudget,
    attempts: int,
) -> ResultData | None:
    """Before sending a mutation again whose earlier request may have reached the vendor while
    its answer was lost (a read timeout, a connection cut mid-answer): the "already done"
    result if the probe finds the work done; None if it finds it not done, or there is no
    probe. A probe that cannot tell (a transient error) raises it: the caller tries again
    later rather than send the mutation blind."""
    rule = RECONCILERS.get(command.type)
    if rule is None or rule.probe is None:
        return None
    if any(command.payload.get(f) in (None, "") for f in rule.requires):
        return None
    try:
        state = await rule.probe(client, command.payload, budget)
    except VendorAPIError as exc:
        if exc.retryable:
            raise
        return None  # the vendor answered: no such thing, so not done
    if state is None:
        return None
    log.info("reconciled %s %s by probe after a lost answer", command.type, command.id)
    return results.reconciled(
        command, endpoint, VendorStatus(ret=0, msg="success"), state, attempts=attempts
    )
