"""What the assignment service reads back of progress (services/assignment/handlers.py): whether a task is
still open, so a reorganisation moves only open tasks. Against an in-memory fake of its repository
(tests/fakes/assignment.py): no broker or database; tests/integration/test_reorganisation.py proves the
same through the real stack."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from events.clock import VN_TZ
from events.envelope import Actor, EventPayload, new_envelope
from events.progress import CompletionReported, CompletionReturned
from events.tasks import ProgressReported, TaskCompleted
from services.assignment import handlers
from tests.fakes import assignment as fake_assignment
from tests.fakes.runtime import fake_unit_of_work

NOW = datetime(2022, 12, 2, 10, 0, tzinfo=VN_TZ)
REGISTRY = handlers.handlers()
REPORTED = CompletionReported(
    reported_on=date(2022, 12, 2), deadline_in_force=date(2022, 12, 31), on_time=True, product="125/BC-SGDĐT"
)
RETURNED = CompletionReturned(
    reason="Thiếu minh chứng", reported_on=date(2022, 12, 2), deadline_in_force=date(2022, 12, 31)
)


def completed(next_due: date | None = None) -> TaskCompleted:
    return TaskCompleted(
        reported_on=date(2022, 12, 2),
        deadline_in_force=date(2022, 12, 31),
        on_time=True,
        product="125/BC-SGDĐT",
        next_due=next_due,
    )


async def consume(monkeypatch: pytest.MonkeyPatch, payload: EventPayload, task_id: str | None, at: datetime) -> None:
    uow, _outbox = fake_unit_of_work(monkeypatch, "assignment", at)
    event = new_envelope(
        payload,
        event_id=uuid.uuid4(),
        occurred_at=at,
        producer="progress",
        actor=Actor(agency_id="so-gddt"),
        task_id=task_id,
    )
    await REGISTRY[payload.event_type](event, uow)


def test_the_registry_reads_only_the_completion_workflow() -> None:
    assert set(REGISTRY) == {"CompletionReported", "CompletionReturned", "TaskCompleted"}
    assert ProgressReported.event_type not in REGISTRY  # progress itself does not close a task


async def test_a_reported_completion_closes_the_task_from_its_first_report(monkeypatch: pytest.MonkeyPatch) -> None:
    store = fake_assignment.install(monkeypatch, "t-1")
    await consume(monkeypatch, REPORTED, "t-1", NOW)
    await consume(monkeypatch, completed(), "t-1", NOW + timedelta(days=1))  # confirmed later: still the first
    assert store.completed_at == {"t-1": NOW}


async def test_a_returned_report_opens_the_task_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store = fake_assignment.install(monkeypatch, "t-1")
    await consume(monkeypatch, REPORTED, "t-1", NOW)
    await consume(monkeypatch, RETURNED, "t-1", NOW + timedelta(hours=1))
    assert store.completed_at == {"t-1": None}


async def test_a_recurring_task_confirmed_stays_open_for_its_next_occurrence(monkeypatch: pytest.MonkeyPatch) -> None:
    store = fake_assignment.install(monkeypatch, "t-1")
    await consume(monkeypatch, REPORTED, "t-1", NOW)
    await consume(monkeypatch, completed(next_due=date(2023, 1, 31)), "t-1", NOW + timedelta(days=1))
    assert store.completed_at == {"t-1": None}


async def test_completion_of_a_task_assignment_does_not_hold_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = fake_assignment.install(monkeypatch, "t-1")
    for task_id in ("t-unknown", None):
        await consume(monkeypatch, REPORTED, task_id, NOW)
    assert store.completed_at == {"t-1": None}
