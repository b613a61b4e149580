"""Every failure a user can cause ends as one line on stderr that says what to do, with the
exit code README.md documents; ``gateway --debug`` adds the traceback (same exit code)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gateway.app import send as send_module
from gateway.app.cli import ExitCode, app
from gateway.app.topics import MissingTopicsError

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No GATEWAY_* variable of the machine running the tests leaks in."""
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def one_line(result: Result) -> str:
    """The only line on stderr (the test fails if there are more)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_payload_that_is_not_json() -> None:
    result = invoke("send", "RoomList", "--payload", "{not json")
    assert result.exit_code == ExitCode.USAGE == 2
    line = one_line(result)
    assert "--payload is not JSON" in line
    assert "send --help" in line


def test_payload_that_is_no_object() -> None:
    result = invoke("send", "RoomList", "--payload", "[1, 2]")
    assert result.exit_code == ExitCode.USAGE
    assert "--payload must be a JSON object" in one_line(result)


def test_invalid_settings_name_the_variables_not_the_values() -> None:
    env = {
        "GATEWAY_KAFKA__SECURITY_PROTOCOL": "CARRIER_PIGEON",
        "GATEWAY_COMMANDS__MAX_IN_FLIGHT": "0",
    }
    result = invoke("topics", env=env)
    assert result.exit_code == ExitCode.USAGE
    line = one_line(result)
    assert "the settings are not valid" in line
    assert "GATEWAY_KAFKA__SECURITY_PROTOCOL" in line
    assert "GATEWAY_COMMANDS__MAX_IN_FLIGHT" in line
    assert "CARRIER_PIGEON" not in line, "a value may be a secret: never echoed"


def test_unknown_role() -> None:
    result = invoke("run", "--role", "everything")
    assert result.exit_code == ExitCode.USAGE
    line = one_line(result)
    assert "unknown role 'everything'" in line
    assert "commands, webhooks, poller" in line


@pytest.mark.parametrize(
    "args",
    [("send", "RoomList"), ("topics", "--timeout", "2"), ("topics", "ensure", "--timeout", "2")],
    ids=["send", "topics", "topics-ensure"],
)
def test_no_broker(closed_port: int, args: tuple[str, ...]) -> None:
    bootstrap = f"127.0.0.1:{closed_port}"
    result = invoke(*args, env={"GATEWAY_KAFKA__BOOTSTRAP_SERVERS": bootstrap})
    assert result.exit_code == ExitCode.KAFKA == 3
    line = one_line(result)
    assert f"no Kafka broker answered at {bootstrap}" in line
    assert "GATEWAY_KAFKA__BOOTSTRAP_SERVERS" in line


def test_debug_shows_the_traceback_and_keeps_the_exit_code(closed_port: int) -> None:
    env = {"GATEWAY_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port}"}
    result = invoke("--debug", "send", "RoomList", env=env)
    assert result.exit_code == ExitCode.KAFKA
    assert "Traceback (most recent call last)" in result.stderr
    assert "KafkaUnreachableError" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert "no Kafka broker answered" in last, "the one line still ends the output"


def test_missing_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_topic(*_: object, **__: object) -> None:
        raise MissingTopicsError(["vendor.commands"])

    monkeypatch.setattr(send_module, "send_command", no_topic)
    result = invoke("send", "RoomList")
    assert result.exit_code == ExitCode.TOPICS_MISSING == 4
    line = one_line(result)
    assert "vendor.commands" in line
    assert "gateway topics ensure" in line


def test_an_unexpected_error_is_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("something nobody foresaw\nover two lines")

    monkeypatch.setattr(send_module, "send_command", broken)
    result = invoke("send", "RoomList")
    assert result.exit_code == ExitCode.UNEXPECTED == 1
    line = one_line(result)
    assert "RuntimeError: something nobody foresaw over two lines" in line
    assert "--debug" in line
    debug = invoke("--debug", "send", "RoomList")
    assert debug.exit_code == ExitCode.UNEXPECTED
    assert "Traceback" in debug.stderr


def test_readme_documents_every_exit_code() -> None:
    """The README's "Command line" section has one row per ExitCode, with its number."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| `?(\d+)`? \|", section, flags=re.M)}
    assert documented == {int(code) for code in ExitCode}
