"""What the drills count and judge, without a stack (the drills themselves: tests/e2e/test_drills.py)."""

from __future__ import annotations

from pathlib import Path

from drills.check import Report, Row
from drills.load import Ledger, Sent
from drills.run import Sample, soak_verdict


def _sample(at: float, rss: float) -> Sample:
    return Sample(at, {"reporting": rss, "audit": 100.0}, {}, 0, {})


def test_a_soak_fails_when_a_service_grows_more_than_a_tenth_after_warm_up() -> None:
    samples = [_sample(0, 50), *(_sample(10 * i, 100) for i in range(1, 9)), _sample(100, 111)]
    [problem] = soak_verdict(samples)
    assert "reporting" in problem and "100 MB to 111 MB" in problem


def test_a_soak_passes_when_memory_stays_within_a_tenth_and_warm_up_growth_does_not_count() -> None:
    samples = [_sample(0, 50), *(_sample(10 * i, 100) for i in range(1, 9)), _sample(100, 109)]
    assert soak_verdict(samples) == []


def test_the_tasks_of_a_ledger_are_the_accepted_assignments_and_the_children_of_accepted_cascades(
    tmp_path: Path,
) -> None:
    ledger = Ledger("r1")
    ledger.sent += [
        Sent("assign", "http", "k1", "t-1", outcome="accepted"),
        Sent("assign", "http", "k2", "t-2", outcome="refused", status=422),
        Sent("delegate", "http", "k1-d", "t-1", outcome="accepted", children=["t-1a"]),
        Sent("bad-token", "http", "k3", "t-3", outcome="rejected", status=401),
    ]
    path = tmp_path / "ledger.jsonl"
    ledger.save(path)
    again = Ledger.load(path)
    assert again.tasks() == {"t-1", "t-1a"}
    assert [s.op for s in again.accepted()] == ["assign", "delegate"]


def test_a_drill_fails_on_any_loss_duplicate_or_bad_record_let_through() -> None:
    assert Report([Row("audit", "events", 3, 3)], bad_sent=1, bad_rejected=1).ok
    assert not Report([Row("audit", "events", 3, 2, lost=1)]).ok
    assert not Report([Row("alerts", "events", 3, 3, duplicated=1)]).ok
    assert not Report([Row("audit", "events", 3, 3)], bad_sent=2, bad_rejected=1).ok
    assert not Report([Row("audit", "events", 3, 3)], gave_up=1).ok
