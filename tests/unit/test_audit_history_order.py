"""A task's audit history never shows an effect before its cause, whatever the services' clocks said and
whichever topic audit read first (the walking skeleton's alert and assignment share one clock instant)."""

from __future__ import annotations

from services.audit.adapters import HistoryEntry, causes_first


def _entry(event_id: str, cause: str | None, seq: int) -> HistoryEntry:
    return HistoryEntry(seq, "dondoc.task-events", 0, seq, "", {"event_id": event_id, "causation_id": cause})


def test_an_effect_read_first_comes_after_its_cause() -> None:
    alert = _entry("alert", "assigned", 1)
    assigned = _entry("assigned", "assigned", 2)  # a command's first event is its own cause
    delivered = _entry("delivered", "alert", 3)
    ordered = causes_first([alert, assigned, delivered])
    assert [e.event_id for e in ordered] == ["assigned", "alert", "delivered"]


def test_entries_whose_cause_is_elsewhere_keep_their_order_and_none_is_dropped() -> None:
    entries = [_entry("b", "x", 1), _entry("a", None, 2), _entry("c", "b", 3)]
    assert [e.event_id for e in causes_first(entries)] == ["b", "a", "c"]
