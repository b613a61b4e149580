"""`gateway demo` runs the whole loop and says what it did."""

from __future__ import annotations

import pytest

from gateway.app.demo import run_demo


async def test_demo_shows_the_loop(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Six commands, their results (one replayed, one rejected), one vendor call per mutation."""
    assert await run_demo(None, kafka_bootstrap) == 0
    out = capsys.readouterr().out
    assert out.count("<- avd.command.") == 6
    assert '"replayed": true' in out
    assert "avd.command.rejected" in out
    assert '"/room/create": 1' in out
