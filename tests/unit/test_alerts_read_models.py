"""The alerts' read models are built from records by position (adapters.py, directory_store.py: the
cheapest way, rows are read for every alert), so each query's column list must name the model's fields in
their order: a column added, dropped or renamed on one side only fails here, not as a shifted value in a
consumer. The operators' view is built by name and must name the same columns."""

from __future__ import annotations

import re
from dataclasses import fields

from services.alerts import adapters, directory_store, operators
from services.alerts.domain import Alert, AlertTask, DigestItem, InboxEntry, Person
from services.alerts.operators import DeliveryView


def _columns(select_list: str) -> list[str]:
    """The names a SELECT list gives its columns: ``a.x`` is ``x``, ``… AS y`` is ``y``."""
    names = []
    for part in select_list.split(","):
        part = " ".join(part.split())
        alias = re.search(r" AS (\w+)$", part, re.IGNORECASE)
        names.append(alias.group(1) if alias else part.rsplit(".", 1)[-1])
    return names


def _names(model: type) -> list[str]:
    return [f.name for f in fields(model)]


def test_each_query_selects_its_models_fields_in_order() -> None:
    assert _columns(adapters._TASK) == _names(AlertTask)
    assert _columns(adapters._ALERT) == _names(Alert)
    assert _columns(adapters._INBOX) == _names(InboxEntry)
    assert _columns(directory_store._PERSON) == _names(Person)
    # working_days_left is counted on the digest's day, not stored.
    assert _columns(adapters._DIGEST) == _names(DigestItem)[:-1] and _names(DigestItem)[-1] == "working_days_left"


def test_the_operators_view_names_the_columns_it_selects() -> None:
    assert sorted(_columns(operators._SHOWN)) == sorted(_names(DeliveryView))


def test_an_inbox_entry_is_an_alert_with_its_tasks_code_title_and_document() -> None:
    assert _names(InboxEntry) == [*_names(Alert), "code", "title", "source_number"]
