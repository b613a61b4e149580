"""The webhook settings: key length, senders, trusted proxies; errors never show a secret."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from gateway.settings import WebhookSettings


def secret(key: bytes) -> str:
    """``whsec_`` + base64 of ``key``."""
    return "whsec_" + base64.b64encode(key).decode()


A = secret(b"sender-a-key-bytes-0123456789abcd")
A2 = secret(b"sender-a-new-key-bytes-0123456789")
B = secret(b"sender-b-key-bytes-0123456789abcd")


@pytest.mark.parametrize("short", ["whsec_AA", secret(b"x" * 23)])
def test_a_short_webhook_key_is_refused_at_load(short: str) -> None:
    """whsec_AA (one key byte) and any key under 24 bytes fail settings validation, in SECRETS
    and in SENDERS, and the message does not carry the secret. Fails on the old code."""
    for given in ({"secrets": short}, {"senders": f"crm={short}"}):
        with pytest.raises(ValidationError, match="fewer than 24 key bytes") as caught:
            WebhookSettings.model_validate(given)
        assert short.removeprefix("whsec_") not in str(caught.value)


def test_senders_in_both_forms_and_rotation() -> None:
    """name=secret items (a name twice: rotation) and the JSON object read the same."""
    items = WebhookSettings.model_validate({"senders": f"crm={A} crm={A2},billing={B}"})
    as_json = WebhookSettings.model_validate(
        {"senders": f'{{"crm": ["{A}", "{A2}"], "billing": "{B}"}}'}
    )
    for settings in (items, as_json):
        assert {k: [s.get_secret_value() for s in v] for k, v in settings.senders.items()} == {
            "crm": [A, A2],
            "billing": [B],
        }


@pytest.mark.parametrize(
    "given",
    [
        {"senders": f"crm={A} billing={A}"},
        {"senders": f"crm={A}", "secrets": A},
        {"senders": A},
        {"senders": f"key-abc={A}"},
    ],
)
def test_ambiguous_or_malformed_senders_are_refused(given: dict[str, str]) -> None:
    """One secret for two senders, a secret without a name, a name like a derived id."""
    with pytest.raises(ValidationError) as caught:
        WebhookSettings.model_validate(given)
    for value in (A, B):
        assert value.removeprefix("whsec_")[:12] not in str(caught.value)


@pytest.mark.parametrize("proxies", ["*", "10.0.0.0/8, *", "proxy.local"])
def test_forwarded_allow_ips_takes_addresses_and_cidrs_only(proxies: str) -> None:
    """'*' (any peer may name any client) and host names are refused; CIDRs pass."""
    with pytest.raises(ValidationError, match="IP addresses or CIDRs"):
        WebhookSettings(forwarded_allow_ips=proxies)
    assert WebhookSettings(forwarded_allow_ips="10.0.0.0/8, ::1").forwarded_allow_ips


def test_uvicorn_bounds_concurrency_and_leaves_forwarded_headers_to_the_app() -> None:
    """limit_concurrency reaches uvicorn (503 beyond it); uvicorn's own proxy-header handling
    is off, the app's middleware (trusted CIDRs only) does it. Fails on the old code (no
    limit; uvicorn trusting forwarded_allow_ips, '*' allowed)."""
    from starlette.applications import Starlette

    from gateway.app.webhooks_role import _server
    from gateway.settings import GatewaySettings

    settings = GatewaySettings().model_copy(
        update={"webhooks": WebhookSettings(limit_concurrency=7)}
    )
    config = _server(settings, Starlette()).config
    assert config.limit_concurrency == 7
    assert config.proxy_headers is False
