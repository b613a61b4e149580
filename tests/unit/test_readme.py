"""The README's settings table is the one the settings models produce."""

from __future__ import annotations

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
