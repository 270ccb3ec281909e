"""The progress service's consumed-event and timer handlers (services/progress/handlers.py,
timer_handlers.py) against in-memory fakes of its repository, timer table and outbox (tests/fakes/),
with the real reminder planning between them. Each event it cannot apply (a task it never saw, a stale
or late timer) changes nothing and emits nothing; each one it applies leaves the reminders of the
deadline in force. Milliseconds, no broker or database; tests/integration/test_progress_workflow.py and
test_timers_durability.py prove the same through the real stack."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from events.deadlines import parse_deadline_or_date
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.tasks import DeadlineExtended, SourceDocument, TaskAssigned, TaskTransferred, TaskWithdrawn
from services.progress import handlers, timer_handlers
from services.progress.config import ProgressConfig
from services.progress.domain import APPROACHING, OVERDUE, overdue_at
from services.runtime.timers import Timer
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import progress as fake_progress
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
DUE, LATER = date(2022, 12, 30), date(2023, 3, 31)
LEAD, COORDINATOR, ASSIGNER = "so-gddt", "so-tc", "ubnd-tinh"
CONFIG = ProgressConfig()
REGISTRY = handlers.handlers(CONFIG)

World = tuple[fake_progress.InMemoryProgress, fake_progress.InMemoryTimers, UnitOfWork, InMemoryOutbox]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    store, table = fake_progress.install_for_events(monkeypatch)
    uow, outbox = fake_unit_of_work(monkeypatch, "progress", NOW)
    return store, table, uow, outbox


def event(payload: EventPayload, task_id: str | None) -> Envelope:
    return new_envelope(
        payload,
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        producer="assignment",
        actor=Actor(agency_id=ASSIGNER),
        task_id=task_id,
    )


def assigned(code: str = "131/NQ-CP#13", due: str = "30/12/2022", key_task: bool = False) -> TaskAssigned:
    return TaskAssigned(
        code=code,
        title="Triển khai thanh toán học phí trực tuyến",
        source_document=SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ"),
        assigning_agency_id=ASSIGNER,
        lead_agency_id=LEAD,
        coordinating_agency_ids=(COORDINATOR,),
        deadline=parse_deadline_or_date(due, date(2022, 10, 6)),
        key_task=key_task,
    )


def extended(new_due: date) -> DeadlineExtended:
    return DeadlineExtended(
        request_id="r-1",
        decided_by_agency_id=ASSIGNER,
        previous_due=DUE,
        due=new_due,
        deadline=parse_deadline_or_date(new_due.isoformat(), date(2022, 10, 6)),
        original_due=DUE,
    )


def reminders(table: fake_progress.InMemoryTimers, task_id: str) -> list[tuple[str, str]]:
    return sorted((t.kind, t.data["due"]) for t in table.of(task_id))


async def consume(payload: EventPayload, task_id: str | None, uow: UnitOfWork) -> None:
    await REGISTRY[payload.event_type](event(payload, task_id), uow)


def test_the_registry_handles_the_assignment_decisions_progress_tracks() -> None:
    assert set(REGISTRY) == {"TaskAssigned", "DeadlineExtended", "TaskWithdrawn", "TaskTransferred"}


async def test_an_assigned_task_is_recorded_with_its_deadline_and_three_reminders_and_the_overdue_timer(
    world: World,
) -> None:
    store, table, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    task = store.tasks["t-1"]
    assert (task.status, task.due, task.original_due, task.lead_agency_id) == ("assigned", DUE, DUE, LEAD)
    assert task.coordinating_agency_ids == (COORDINATOR,) and task.plan == 1
    assert [t.kind for t in table.of("t-1")] == [APPROACHING] * 3 + [OVERDUE]  # 7, 3 and 1 working days
    assert outbox.events == {}  # recording is not an event of progress


async def test_a_key_task_is_reminded_on_its_own_shorter_lead_times(world: World) -> None:
    _store, table, uow, _outbox = world
    await consume(assigned(key_task=True), "t-key", uow)
    left = sorted((t.data["working_days_left"] for t in table.of("t-key") if t.kind == APPROACHING), reverse=True)
    assert tuple(left) == CONFIG.key_task_lead_days


async def test_the_same_assignment_consumed_twice_records_and_plans_the_task_once(world: World) -> None:
    store, table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    first = (store.tasks["t-1"], list(table.live))
    await consume(assigned(code="131/NQ-CP#13-again"), "t-1", uow)
    assert (store.tasks["t-1"], table.live) == first


async def test_an_approved_extension_moves_the_deadline_in_force_and_replans_on_it(world: World) -> None:
    store, table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(extended(LATER), "t-1", uow)
    task = store.tasks["t-1"]
    assert (task.due, task.original_due, task.plan) == (LATER, DUE, 2)  # the original stays for the reports
    assert {due for _, due in reminders(table, "t-1")} == {LATER.isoformat()}  # no reminder of the old date
    assert (OVERDUE, LATER.isoformat()) in reminders(table, "t-1")


@pytest.mark.parametrize(
    "payload",
    [extended(LATER), TaskWithdrawn(withdrawn_by_agency_id=ASSIGNER, reason="Đã có văn bản thay thế")],
    ids=["extension", "withdrawal"],
)
async def test_an_event_for_a_task_progress_never_saw_changes_nothing(world: World, payload: EventPayload) -> None:
    store, table, uow, outbox = world
    await consume(assigned(), "t-known", uow)
    before = (dict(store.tasks), list(table.live))
    for task_id in ("t-unknown", None):
        await consume(payload, task_id, uow)
    assert (dict(store.tasks), table.live, outbox.events) == (*before, {})


async def test_a_withdrawn_task_leaves_the_open_statuses_and_keeps_no_reminder(world: World) -> None:
    store, table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(TaskWithdrawn(withdrawn_by_agency_id=ASSIGNER, reason="Đã có văn bản thay thế"), "t-1", uow)
    assert store.tasks["t-1"].status == "withdrawn" and table.of("t-1") == []


def transferred(role: Any, old: str, new: str) -> TaskTransferred:
    return TaskTransferred(
        reorganisation_id="nq-202-2025",
        decision=SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội"),
        effective_on=date(2025, 7, 1),
        from_agency_id=old,
        to_agency_id=new,
        role=role,
    )


async def test_a_transfer_hands_the_lead_to_the_successor_and_leaves_status_and_schedule_alone(
    world: World,
) -> None:
    store, table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    store.tasks["t-1"] = replace(store.tasks["t-1"], officer_in_charge_id="p-1")
    before, schedule = store.tasks["t-1"], list(table.live)
    await consume(transferred("chu-tri", LEAD, "so-gddt-moi"), "t-1", uow)
    after = store.tasks["t-1"]
    assert (after.lead_agency_id, after.officer_in_charge_id) == ("so-gddt-moi", None)  # its head names one
    assert (after.status, after.due, after.plan, table.live) == (before.status, before.due, before.plan, schedule)


async def test_a_transfer_of_a_coordinating_agency_replaces_it_in_the_list(world: World) -> None:
    store, _table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    await consume(transferred("phoi-hop", COORDINATOR, "so-tc-moi"), "t-1", uow)
    assert store.tasks["t-1"].coordinating_agency_ids == ("so-tc-moi",)
    assert store.tasks["t-1"].lead_agency_id == LEAD


# --- Fired timers ---------------------------------------------------------------------------------


def fired(table: fake_progress.InMemoryTimers, task_id: str, kind: str) -> Timer:
    planned = next(t for t in table.of(task_id) if t.kind == kind)
    return Timer(uuid.uuid4(), planned.kind, planned.subject_id, planned.dedup_key, planned.fire_at, dict(planned.data))


async def test_a_reminder_of_the_current_plan_emits_deadline_approaching_once_per_threshold(world: World) -> None:
    _store, table, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    timer = fired(table, "t-1", APPROACHING)
    await timer_handlers.fire_approaching(timer, uow)
    await timer_handlers.fire_approaching(timer, uow)  # a second replica firing the same threshold
    [emitted] = outbox.of_type("DeadlineApproaching")
    assert (emitted.task_id, emitted.payload.due) == ("t-1", DUE)  # type: ignore[attr-defined]


async def test_the_overdue_timer_emits_task_overdue_from_the_day_after_the_deadline(world: World) -> None:
    _store, table, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    await timer_handlers.fire_overdue(fired(table, "t-1", OVERDUE), uow)
    [emitted] = outbox.of_type("TaskOverdue")
    assert emitted.payload.overdue_since == overdue_at(DUE)  # type: ignore[attr-defined]


async def test_a_timer_of_an_older_plan_or_a_closed_task_fires_nothing(world: World) -> None:
    store, table, uow, outbox = world
    await consume(assigned(), "t-1", uow)
    stale = [fired(table, "t-1", APPROACHING), fired(table, "t-1", OVERDUE)]
    # A re-plan on the same deadline (as new lead times make): only the plan number tells the old timers.
    await consume(extended(DUE), "t-1", uow)
    for timer in stale:
        await timer_handlers.TIMER_HANDLERS[timer.kind](timer, uow)
    current = fired(table, "t-1", OVERDUE)
    for status in ("completion_reported", "completed", "withdrawn"):
        store.tasks["t-1"] = replace(store.tasks["t-1"], status=status)
        await timer_handlers.fire_overdue(current, uow)
    assert outbox.events == {}


async def test_a_reminder_fired_after_the_deadline_has_passed_stays_silent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, table, uow, _outbox = world
    await consume(assigned(), "t-1", uow)
    timer = fired(table, "t-1", APPROACHING)
    # The service was down: the reminder fires only once the task is overdue; the overdue alert says more.
    late, outbox = fake_unit_of_work(monkeypatch, "progress", overdue_at(DUE))
    await timer_handlers.fire_approaching(timer, late)
    assert outbox.events == {} and store.tasks["t-1"].status == "assigned"
