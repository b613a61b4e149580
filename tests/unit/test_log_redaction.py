"""Log lines carry no secret, whatever the form: message and arguments, ``extra`` fields, the
exception text, JSON and dict forms, URLs with passwords; in JSON lines and console lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.telemetry.logs import configure_logging, redact_log_text

SECRETS = ("tok-123456", "pa55word", "ak-secret", "sk-secret", "redis-pw", "bearer-credential")


@pytest.fixture(params=[True, False], ids=["json", "console"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    handler = configure_logging("DEBUG", json_lines=request.param)
    stream = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_extra_fields_are_masked_by_name_and_content(captured: io.StringIO) -> None:
    logging.getLogger("gateway.test").info(
        "calling",
        extra={
            "secret_key": "sk-secret",
            "request": {"params": {"access_key": "ak-secret", "room_id": "r1"}},
            "url": "redis://:redis-pw@redis:6379/0",
            "headers": ["Authorization: Bearer bearer-credential"],
        },
    )
    out = captured.getvalue()
    assert not leaks(out), out
    if out.startswith("{"):  # JSON lines show the extra fields (console lines do not)
        line = json.loads(out)
        assert line["request"]["params"] == {"access_key": "***", "room_id": "r1"}
        assert line["secret_key"] == "***"


def test_exception_text_is_masked(captured: io.StringIO) -> None:
    try:
        raise RuntimeError(
            'vendor said {"password": "pa55word"} for http://v/x?token=tok-123456'
            " and {'access_key': 'ak-secret'}"
        )
    except RuntimeError:
        logging.getLogger("gateway.test").exception("call failed")
    out = captured.getvalue()
    assert "RuntimeError" in out
    assert not leaks(out), out


def test_message_arguments_in_json_and_dict_forms_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("gateway.test")
    log.warning("body %s", json.dumps({"secret_key": "sk-secret", "n": 1}))
    log.warning("params %s", {"password": "pa55word", "token": "tok-123456"})
    log.warning("mapping %(access_key)s", {"access_key": "ak-secret"})
    log.warning("connecting to %s", "redis://user:redis-pw@redis:6379/0")
    out = captured.getvalue()
    assert not leaks(out), out
    assert out.count("***") >= 5


def test_redact_log_text_forms() -> None:
    assert redact_log_text('{"token": "tok-123456", "x": 1}') == '{"token": "***", "x": 1}'
    assert redact_log_text('{\\"password\\": \\"pa55word\\"}') == '{\\"password\\": \\"***\\"}'
    assert redact_log_text("{'secret_key': 'sk-secret'}") == "{'secret_key': '***'}"
    assert redact_log_text('"password": 12345') == '"password": ***'
    assert redact_log_text("redis://:redis-pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_log_text("https://vendor.example/x") == "https://vendor.example/x"


# Texts a sender can put in a command id or payload that made backtracking patterns quadratic
# (a 1 MB run of letters held the event loop for minutes in the full chaos `malformed` case).
HOSTILE_TEXTS = {
    "letters": "a" * 400_000,
    "dotted": "a." * 200_000,
    "quoted run": '"' + "a" * 400_000,
    "secret words": '"' + "token" * 80_000,
    "scheme-like": "x://" + "a" * 400_000,
    "bearer words": "bearer " * 60_000,
    "open values": '"token":"' * 45_000,
    "url user info": "http://u:" + "p" * 400_000,
}


def test_redaction_is_linear_on_hostile_text() -> None:
    """Each text is redacted in a child process within 60 s: linear patterns take well under a
    second for all of them; one quadratic pattern takes hours on any of them."""
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from gateway.telemetry.logs import redact_log_text\n"
        "for text in json.load(sys.stdin).values():\n"
        "    redact_log_text(text)\n"
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script],
        input=json.dumps(HOSTILE_TEXTS),
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_long_extra_values_are_clipped(captured: io.StringIO) -> None:
    logging.getLogger("gateway.test").info("rejected", extra={"command_id": "x" * 100_000})
    line = captured.getvalue()
    assert len(line) < 5_000
    if line.startswith("{"):  # the console form shows no extra fields at all
        assert json.loads(line)["command_id"].endswith("(+98000 chars)")
