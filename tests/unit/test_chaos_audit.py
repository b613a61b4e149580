"""The chaos suite's audit arithmetic (chaos/audit.py): stalls, verdicts, the table."""

from __future__ import annotations

from chaos.audit import Audit, max_stall, render_table


def test_a_partition_with_nothing_outstanding_is_idle_not_stalled() -> None:
    sends = [(0.0, 0), (100.0, 0)]
    results = [(1.0, 0), (101.0, 0)]
    assert max_stall(sends, results, end=200.0) == (1.0, 0)


def test_the_longest_gap_between_results_while_work_is_outstanding() -> None:
    sends = [(0.0, 0), (0.0, 0), (0.0, 0), (5.0, 1)]
    results = [(1.0, 0), (13.0, 0), (14.0, 0), (6.0, 1)]
    assert max_stall(sends, results, end=20.0) == (12.0, 0)


def test_work_still_outstanding_at_the_end_stalls_until_the_end() -> None:
    sends = [(0.0, 3), (1.0, 3)]
    results = [(2.0, 3)]
    assert max_stall(sends, results, end=50.0) == (48.0, 3)


def test_verdicts_and_table() -> None:
    ok = Audit("a", "a", sent=10, results=10, max_stall_s=3.0, budget_s=60.0)
    stalled = Audit("b", "b", sent=10, results=10, max_stall_s=61.0, budget_s=60.0)
    doubled = Audit("c", "c", sent=10, results=10, double_mutations=1, budget_s=60.0)
    checked = Audit("d", "d", sent=1, results=1, budget_s=1.0, problems=["takeover too slow"])
    refused = Audit("e", "e", refused="points elsewhere")
    assert [a.verdict for a in (ok, stalled, doubled, checked, refused)] == [
        "PASS",
        "FAIL",
        "FAIL",
        "FAIL",
        "REFUSED",
    ]
    table = render_table([ok, refused, checked])
    assert table.splitlines()[0].startswith("| case | sent | results | missing | duplicates")
    assert "| e | - |" in table
    assert "**d** FAILED CHECK: takeover too slow" in table
