"""The store-full cases' witness check (chaos/cases_full.py): a vendor create needs a claim of
its command stored before it."""

from __future__ import annotations

from typing import Any

from chaos.cases_full import Timeline, claims_before_calls

ROOMS = {"c-1-aa": "10000000001", "c-2-bb": "10000000002", "c-3-cc": "10000000003"}


def _create(room: str, ts: float, fault: str | None = None) -> dict[str, Any]:
    return {"params": {"room_id": room}, "ts": ts, "fault": fault, "ret": 0}


def test_creates_after_their_claims_pass_and_the_full_window_is_counted() -> None:
    timeline = Timeline(t0_wall=1000.0, full_at=10.0, back_at=20.0)
    creates = [_create("10000000001", 1005.0), _create("10000000002", 1015.0)]
    claims = [(1004.9, "a:x/c-1-aa"), (1014.0, "a:x/c-2-bb"), (1016.0, "b:y/c-3-cc")]
    check = claims_before_calls(ROOMS, creates, claims, timeline)
    assert check["vendor_creates_without_prior_claim"] == 0
    assert check["full_window_vendor_creates"] == 1
    assert check["full_window_claims_stored"] == 2


def test_a_create_without_a_claim_or_before_it_is_reported() -> None:
    timeline = Timeline(t0_wall=1000.0, full_at=10.0, back_at=20.0)
    creates = [
        _create("10000000001", 1012.0),  # no claim of c-1 stored at all
        _create("10000000002", 1013.0),  # its claim stored only after the call
        _create("10000000003", 1014.0, fault="outage"),  # never reached the vendor: ignored
    ]
    claims = [(1013.5, "a:x/c-2-bb")]
    check = claims_before_calls(ROOMS, creates, claims, timeline)
    assert check["vendor_creates_without_prior_claim"] == 2
    assert [u["command_id"] for u in check["unclaimed_examples"]] == ["c-1-aa", "c-2-bb"]
    assert check["unclaimed_examples"][1]["claim_at_s"] == 13.5
