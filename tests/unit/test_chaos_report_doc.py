"""docs/chaos.md keeps the chaos audit and the soak, each replaced by its own run."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.report_doc import write_part


def test_each_run_replaces_its_part_and_keeps_the_other(tmp_path: Path) -> None:
    report = tmp_path / "chaos.md"
    write_part("audit", "# Chaos audit\n\nrun 1\n", report)
    write_part("soak", "## Soak (60 min)\n\nflat\n", report)
    write_part("audit", "# Chaos audit\n\nrun 2\n", report)
    text = report.read_text()
    assert "run 2" in text
    assert "run 1" not in text
    assert text.index("run 2") < text.index("## Soak (60 min)")
    write_part("soak", "## Soak (60 min)\n\nstill flat\n", report)
    text = report.read_text()
    assert "still flat" in text
    assert "\nflat" not in text
    assert "run 2" in text


def test_an_unknown_part_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bench"):
        write_part("bench", "x", tmp_path / "chaos.md")
