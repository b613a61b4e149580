"""No secret has a default outside the simulator: `gateway run` refuses to start without the
vendor keys, naming the variables; the Redis URL (it may hold a password) is never shown."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.app.cli import app
from gateway.app.vendor import build_vendor_client
from gateway.settings import GatewaySettings, RedisSettings, VendorSettings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


def test_vendor_keys_have_no_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = GatewaySettings()
    assert settings.vendor.access_key is None
    assert settings.vendor.secret_key is None
    assert settings.missing_vendor_keys() == [
        "GATEWAY_VENDOR__ACCESS_KEY",
        "GATEWAY_VENDOR__SECRET_KEY",
    ]


def test_missing_keys_of_every_account_are_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GATEWAY_VENDOR__ACCESS_KEY", "a")
    clean_env.setenv("GATEWAY_VENDOR__SECRET_KEY", "b")
    clean_env.setenv("GATEWAY_ACCOUNTS__EMEA__BASE_URL", "https://emea.example")
    clean_env.setenv("GATEWAY_ACCOUNTS__EMEA__ACCESS_KEY", "c")
    assert GatewaySettings().missing_vendor_keys() == ["GATEWAY_ACCOUNTS__EMEA__SECRET_KEY"]


def test_gateway_run_without_vendor_keys_fails_at_start(clean_env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["run", "--role", "commands"])
    assert result.exit_code == 2
    assert "GATEWAY_VENDOR__ACCESS_KEY, GATEWAY_VENDOR__SECRET_KEY" in result.output
    assert "not set" in result.output


def test_a_vendor_client_is_not_built_without_keys() -> None:
    with pytest.raises(ValueError, match="GATEWAY_VENDOR__ACCESS_KEY"):
        build_vendor_client(VendorSettings(base_url="http://127.0.0.1:1"))


def test_redis_url_is_a_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GATEWAY_REDIS__URL", "redis://:hunter2-pw@redis:6379/0")
    settings = GatewaySettings()
    assert settings.redis.url is not None
    assert settings.redis.url.get_secret_value() == "redis://:hunter2-pw@redis:6379/0"
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2-pw" not in shown
    assert "hunter2-pw" not in repr(RedisSettings(url="redis://:hunter2-pw@h:1/0"))  # type: ignore[arg-type]
