"""The README's settings table is the one the settings models produce."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.app.settings_table import settings_rows, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_code() -> None:
    """Every setting is documented in the README, with its current default."""
    text = README.read_text(encoding="utf-8")
    start = text.index("-->", text.index("<!-- settings-table:start")) + len("-->\n")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == settings_table(), "run: python -m gateway.app.settings_table"
    assert len(settings_rows()) > 20


def test_every_default_reads_as_a_value_or_in_words() -> None:
    """No pydantic sentinels: a default computed at start (instance id) or an empty collection
    is said in words."""
    for env, default, _ in settings_rows():
        assert "Undefined" not in default, env
    defaults = {env: default for env, default, _ in settings_rows()}
    assert defaults["GATEWAY_INSTANCE_ID"].startswith("the host name")
    assert defaults["GATEWAY_ACCOUNTS"] == "none"
    assert defaults["GATEWAY_WEBHOOKS__SECRETS"] == "none"


def test_security_doc_names_only_real_settings() -> None:
    """docs/security.md (the threat model) names settings that exist, so it cannot drift."""
    text = (README.parent / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"GATEWAY_[A-Z0-9_]+[A-Z0-9]", text))
    known = {row[0] for row in settings_rows()}
    assert len(named) >= 10
    # a name may also be a group's prefix (GATEWAY_VENDOR__RATE_LIMIT__*)
    assert {n for n in named if not any(k.startswith(n) for k in known)} == set()


def test_readme_names_only_files_that_exist() -> None:
    """Every source file the README points at (the StartLive walk-through included) exists."""
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`(gateway/[\w/]+\.py)`", text))
    assert len(named) >= 8
    assert {p for p in named if not (README.parent / p).is_file()} == set()
