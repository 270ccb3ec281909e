"""Every command handler of the progress service (services/progress/command_handlers.py) against in-memory
fakes of its repository and outbox (tests/fakes/): each refusal, with its status and code, changes
nothing and emits nothing; each accepted command emits its one event. Milliseconds, no broker or database;
tests/integration/test_progress_*.py prove the same through the real stack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from services.progress import command_handlers as handlers
from services.progress import commands as cmd
from services.progress.config import ProgressConfig
from services.runtime.refusals import Refused
from services.runtime.unit_of_work import UnitOfWork
from tests.fakes import progress as fake_progress
from tests.fakes.runtime import InMemoryOutbox, fake_unit_of_work

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)
LEAD, COORDINATOR, ASSIGNER, STRANGER = "so-gddt", "so-tc", "ubnd-tinh", "so-xd"
CONFIG = ProgressConfig()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> tuple[fake_progress.InMemoryProgress, UnitOfWork, InMemoryOutbox]:
    store = fake_progress.install(monkeypatch)
    uow, outbox = fake_unit_of_work(monkeypatch, "progress", NOW)
    return store, uow, outbox


Call = Callable[[str, str, UnitOfWork], Awaitable[Any]]

# Each command, as the route calls it: (task id, acting agency, unit of work).
COMMANDS: dict[str, Call] = {
    "report_progress": lambda t, a, u: handlers.report_progress(t, cmd.ReportProgress(percent=40), a, u),
    "report_completion": lambda t, a, u: handlers.report_completion(t, cmd.ReportCompletion(product="125/BC"), a, u),
    "confirm_completion": lambda t, a, u: handlers.confirm_completion(t, cmd.ConfirmCompletion(), a, u, CONFIG),
    "return_completion": lambda t, a, u: handlers.return_completion(
        t, cmd.ReturnCompletion(reason="Thiếu"), a, u, CONFIG
    ),
    "add_note": lambda t, a, u: handlers.add_note(t, cmd.AddNote(note="Đã phối hợp"), a, u),
    "set_lead_times": lambda t, a, u: handlers.set_lead_times(t, cmd.SetLeadTimes(lead_days=[5, 1]), a, u, CONFIG),
}


async def _refused(call: Call, task_id: str, agency: str, uow: UnitOfWork) -> Refused:
    with pytest.raises(Refused) as caught:
        await call(task_id, agency, uow)
    assert caught.value.detail()["message"] and caught.value.detail()["message_vi"]  # both languages, always
    return caught.value


@pytest.mark.parametrize("command", COMMANDS)
async def test_every_command_on_an_unknown_task_is_not_found(world: Any, command: str) -> None:
    _store, uow, outbox = world
    refusal = await _refused(COMMANDS[command], "t-none", LEAD, uow)
    assert (refusal.status_code, refusal.code) == (404, "task-not-found")
    assert outbox.events == {}


@pytest.mark.parametrize("command", COMMANDS)
async def test_a_secret_task_answers_an_agency_not_involved_as_one_that_does_not_exist(
    world: Any, command: str
) -> None:
    store, uow, outbox = world
    store.tasks["t-secret"] = fake_progress.a_task("t-secret", classification="mat", status="completion_reported")
    refusal = await _refused(COMMANDS[command], "t-secret", STRANGER, uow)
    assert (refusal.status_code, refusal.code) == (404, "task-not-found")
    shown = refusal.detail()["message"] + refusal.detail()["message_vi"]
    assert LEAD not in shown and ASSIGNER not in shown  # names nothing it protects
    assert outbox.events == {} and store.tasks["t-secret"].status == "completion_reported"


@pytest.mark.parametrize(
    ("command", "agency", "status", "code"),
    [
        ("report_progress", COORDINATOR, 403, "coordinator-cannot-report"),
        ("report_progress", ASSIGNER, 403, "not-lead-agency"),
        ("report_completion", COORDINATOR, 403, "coordinator-cannot-report"),
        ("report_completion", STRANGER, 403, "not-lead-agency"),
        ("confirm_completion", LEAD, 403, "not-assigning-agency"),
        ("return_completion", COORDINATOR, 403, "not-assigning-agency"),
        ("add_note", ASSIGNER, 403, "not-involved"),
        ("set_lead_times", COORDINATOR, 403, "coordinator-cannot-report"),
    ],
)
async def test_only_the_agency_whose_part_it_is_may_send_each_command(
    world: Any, command: str, agency: str, status: int, code: str
) -> None:
    store, uow, outbox = world
    store.tasks["t-1"] = fake_progress.a_task("t-1", status="in_progress")
    refusal = await _refused(COMMANDS[command], "t-1", agency, uow)
    assert (refusal.status_code, refusal.code) == (status, code)
    assert outbox.events == {} and store.tasks["t-1"].status == "in_progress"


@pytest.mark.parametrize(
    ("command", "agency", "status"),
    [
        ("report_progress", LEAD, "completed"),
        ("report_progress", LEAD, "completion_reported"),
        ("report_completion", LEAD, "completion_reported"),
        ("confirm_completion", ASSIGNER, "in_progress"),
        ("return_completion", ASSIGNER, "assigned"),
        ("add_note", COORDINATOR, "completed"),
        ("set_lead_times", LEAD, "completed"),
    ],
)
async def test_a_command_the_tasks_status_does_not_allow_is_a_conflict_naming_the_status(
    world: Any, command: str, agency: str, status: str
) -> None:
    store, uow, outbox = world
    store.tasks["t-1"] = fake_progress.a_task("t-1", status=status)
    refusal = await _refused(COMMANDS[command], "t-1", agency, uow)
    assert (refusal.status_code, refusal.code) == (409, f"task-{status.replace('_', '-')}")
    assert outbox.events == {}


async def test_completion_with_open_children_needs_a_reason(world: Any) -> None:
    store, uow, outbox = world
    store.tasks["t-parent"] = fake_progress.a_task("t-parent", status="in_progress")
    store.tasks["t-child"] = fake_progress.a_task("t-child", parent_task_id="t-parent", status="in_progress")
    refusal = await _refused(COMMANDS["report_completion"], "t-parent", LEAD, uow)
    assert (refusal.status_code, refusal.code) == (409, "children-open")
    assert "1 of 1" in refusal.detail()["message"] and "1/1" in refusal.detail()["message_vi"]
    assert outbox.events == {}

    command = cmd.ReportCompletion(product="125/BC", open_children_override="Đơn vị cấp dưới báo cáo chậm")
    event = await handlers.report_completion("t-parent", command, LEAD, uow)
    assert event.event_type == "CompletionReported" and store.tasks["t-parent"].status == "completion_reported"
    assert store.unplanned == ["t-parent"]  # reminders pause while the assigner decides


async def test_each_accepted_command_emits_its_one_event(world: Any) -> None:
    store, uow, outbox = world
    store.tasks["t-1"] = fake_progress.a_task("t-1", status="assigned")
    steps = [
        ("report_progress", LEAD, "ProgressReported", "in_progress"),
        ("add_note", COORDINATOR, "CoordinationNoteAdded", "in_progress"),
        ("set_lead_times", ASSIGNER, "ReminderLeadTimesSet", "in_progress"),
        ("report_completion", LEAD, "CompletionReported", "completion_reported"),
        ("return_completion", ASSIGNER, "CompletionReturned", "in_progress"),
        ("report_completion", LEAD, "CompletionReported", "completion_reported"),
        ("confirm_completion", ASSIGNER, "TaskCompleted", "completed"),
    ]
    for command, agency, event_type, status in steps:
        event = await COMMANDS[command]("t-1", agency, uow)
        assert (event.event_type, store.tasks["t-1"].status) == (event_type, status), command
    assert len(outbox.events) == len(steps)
    assert store.notes == [("t-1", COORDINATOR, "Đã phối hợp")] and len(store.completions) == 1


async def test_a_key_sent_again_answers_the_first_event_and_a_key_reused_on_another_body_is_a_conflict(
    world: Any,
) -> None:
    store, uow, outbox = world
    store.tasks["t-1"] = fake_progress.a_task("t-1", status="in_progress")
    first = await handlers.report_progress("t-1", cmd.ReportProgress(percent=40, idempotency_key="k-1"), LEAD, uow)
    again = await handlers.report_progress("t-1", cmd.ReportProgress(percent=40, idempotency_key="k-1"), LEAD, uow)
    assert again.event_id == first.event_id and len(outbox.events) == 1
    with pytest.raises(Refused) as caught:
        await handlers.report_progress("t-1", cmd.ReportProgress(percent=90, idempotency_key="k-1"), LEAD, uow)
    assert (caught.value.status_code, caught.value.code) == (409, "idempotency-conflict")
    assert store.tasks["t-1"].percent == 40 and len(outbox.events) == 1
