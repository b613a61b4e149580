"""Vendor secrets in a result (a SIP account's password, a token) are masked before the
result event is built, so on Kafka and in HTTP answers."""

from __future__ import annotations

import json

from gateway.commands.outbound import result_record
from gateway.messages.masking import is_secret_field, mask_secrets
from gateway.messages.results import ErrorInfo, ResultData

PASSWORD = "sip-pa55-unit-8812"


def data(**fields: object) -> ResultData:
    """A result of a SipAccountRead."""
    base: dict[str, object] = {
        "command_id": "c-1",
        "command_type": "SipAccountRead",
        "idempotency_key": "c-1",
        "status": "succeeded",
        "endpoint": "/sip/account/read",
    }
    return ResultData.model_validate({**base, **fields})


def test_the_vendors_secret_fields_are_named() -> None:
    """The vendor's secret parameters and answer fields, and nothing else of its answers."""
    for name in ("password", "host_password", "token", "access_key", "secret_key"):
        assert is_secret_field(name)
    assert is_secret_field("licence_cert")
    assert is_secret_field("Password")
    for name in ("account_id", "name", "room_id", "key", "idempotency_key", "user_data"):
        assert not is_secret_field(name)


def test_nested_secrets_are_masked_and_the_rest_kept() -> None:
    """Lists of dicts at any depth; None stays None; the input is not changed."""
    answer = {"accounts": [{"name": "a", "password": PASSWORD, "extra": {"token": "t"}}]}
    masked = mask_secrets(answer)
    assert masked == {"accounts": [{"name": "a", "password": "***", "extra": {"token": "***"}}]}
    assert answer["accounts"][0]["password"] == PASSWORD
    assert mask_secrets({"password": None}) == {"password": None}


def test_a_sip_account_read_result_event_carries_no_password() -> None:
    """The record the commands role publishes: password masked in result and error details.
    Fails on the old code, which published the vendor's answer as it came."""
    succeeded = data(result={"accounts": [{"account_id": 1, "password": PASSWORD}]})
    failed = data(
        status="failed",
        error=ErrorInfo(error_class="X", message="m", details={"password": PASSWORD}),
    )
    for result in (succeeded, failed):
        record = result_record(
            "results", b"k", result, prefix="avd", source="/gw", traceparent=None
        )
        assert PASSWORD.encode() not in record.value
        assert b'"password":"***"' in record.value
    event = json.loads(
        result_record(
            "results", b"k", succeeded, prefix="avd", source="/gw", traceparent=None
        ).value
    )
    assert event["data"]["result"]["accounts"][0] == {"account_id": 1, "password": "***"}
