"""The progress service on the real broker and database: the status workflow, who may write, on time or
late, parent roll-up, recurring occurrences, lead times, extension and withdrawal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.tasks import DeadlineExtended, TaskWithdrawn
from events.topics import TASK_EVENTS
from services.progress.bootstrap import definition
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import (
    Events,
    assign,
    bearer,
    deadline,
    envelope,
    fetch,
    publish,
    topic_events,
)

pytestmark = pytest.mark.integration

LEAD, ASSIGNER, COORDINATOR, OTHER = "bd-sgddt", "ubnd-bd", "bd-stc", "bd-syt"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(), clock) as client:
        yield client


@pytest.fixture
async def events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, TASK_EVENTS, 6) as found:
        yield found


async def assigned(infra: Any, http: httpx.AsyncClient, clock: ManualClock, **kwargs: Any) -> str:
    kwargs = {"officer": "p-officer", "coordinating": (COORDINATOR,), **kwargs}
    task_id, _ = await assign(infra.kafka, clock.now(), **kwargs)
    await eventually(lambda: _status(http, task_id), what="the progress service to know the task")
    return task_id


async def _status(http: httpx.AsyncClient, task_id: str) -> str | None:
    response = await http.get(f"/v1/tasks/{task_id}")
    return response.json()["status"] if response.status_code == 200 else None


async def task(http: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def post(http: httpx.AsyncClient, settings: Any, agency: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return http.post(path, json=body or {}, headers=bearer(settings, agency))


async def live_timers(settings: Any, task_id: str) -> list[dict[str, Any]]:
    return await fetch(
        settings,
        "progress",
        "SELECT kind, dedup_key, fire_at FROM timers WHERE subject_id = $1 AND status = 'scheduled' ORDER BY fire_at",
        task_id,
    )


COMPLETION = {
    "product": "Báo cáo số 125/BC-SGDĐT ngày 20/11/2022",
    "evidence": {
        "document_number": "125/BC-SGDĐT",
        "document_date": "2022-11-20",
        "link": "https://sgddt.binhdinh.gov.vn/bc/125",
    },
}


async def test_status_goes_from_assigned_to_in_progress_to_reported_to_confirmed(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    task_id = await assigned(infra, http, clock)
    assert (await task(http, task_id))["status"] == "assigned"

    r = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/progress", {"percent": 40, "note": "Đã khảo sát"})
    assert r.status_code == 202, r.text
    assert ((t := await task(http, task_id))["status"], t["percent"]) == ("in_progress", 40)

    r = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)
    assert r.status_code == 202, r.text
    t = await task(http, task_id)
    assert (t["status"], t["reported_on"], t["on_time"]) == ("completion_reported", "2022-11-04", True)
    assert t["evidence"]["document_number"] == "125/BC-SGDĐT"
    assert await live_timers(settings, task_id) == []  # reminders pause while the assigner decides

    clock.advance(timedelta(days=3))
    r = await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm")
    assert r.status_code == 202, r.text
    assert (await task(http, task_id))["status"] == "completed"

    types = await eventually(lambda: _types_when(events, task_id, "TaskCompleted"), what="TaskCompleted")
    assert types == ["TaskAssigned", "ProgressReported", "CompletionReported", "TaskCompleted"]
    completed = (await events.of(task_id, "TaskCompleted"))[0].payload
    # On time compares the day the completion was *reported* (4/11), not confirmed (7/11), with the deadline.
    assert completed.model_dump(include={"reported_on", "deadline_in_force", "on_time"}) == {
        "reported_on": date(2022, 11, 4),
        "deadline_in_force": date(2022, 11, 30),
        "on_time": True,
    }


async def _types_when(events: Events, task_id: str, last: str) -> list[str] | None:
    types = [e.event_type for e in await events.of(task_id)]
    return types if last in types else None


async def test_a_returned_completion_goes_back_to_in_progress_with_its_reason_and_its_reminders(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    task_id = await assigned(infra, http, clock)
    await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)
    r = await post(
        http,
        settings,
        ASSIGNER,
        f"/v1/tasks/{task_id}/return",
        {"reason": "Chưa kèm danh sách trường đã triển khai"},
    )
    assert r.status_code == 202, r.text
    t = await task(http, task_id)
    assert (t["status"], t["return_reason"]) == ("in_progress", "Chưa kèm danh sách trường đã triển khai")
    assert [x["kind"] for x in await live_timers(settings, task_id)][-1] == "task-overdue"
    returned = await eventually(lambda: events.of(task_id, "CompletionReturned"), what="CompletionReturned")
    assert returned[0].payload.model_dump()["reason"] == "Chưa kèm danh sách trường đã triển khai"
    # Confirming needs a completion report again.
    r = await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm")
    assert (r.status_code, r.json()["detail"]["code"]) == (409, "task-in-progress")


async def test_only_the_lead_agency_reports_and_a_coordinator_gets_a_clear_403_but_may_add_a_note(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id = await assigned(infra, http, clock)
    for path in ("progress", "complete"):
        body = {"percent": 10} if path == "progress" else COMPLETION
        r = await post(http, settings, COORDINATOR, f"/v1/tasks/{task_id}/{path}", body)
        assert r.status_code == 403, r.text
        assert r.json()["detail"]["code"] == "coordinator-cannot-report"
        assert "chỉ được ghi chú phần việc của mình" in r.json()["detail"]["message_vi"]
        r = await post(http, settings, OTHER, f"/v1/tasks/{task_id}/{path}", body)
        assert (r.status_code, r.json()["detail"]["code"]) == (403, "not-lead-agency")

    r = await post(
        http, settings, COORDINATOR, f"/v1/tasks/{task_id}/notes", {"note": "Sở Tài chính đã bố trí kinh phí"}
    )
    assert r.status_code == 202, r.text
    assert (await task(http, task_id))["notes"][0]["agency_id"] == COORDINATOR
    r = await post(http, settings, OTHER, f"/v1/tasks/{task_id}/notes", {"note": "?"})
    assert (r.status_code, r.json()["detail"]["code"]) == (403, "not-involved")

    assert (await http.post(f"/v1/tasks/{task_id}/progress", json={"percent": 5})).status_code == 401
    await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)
    r = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/confirm")
    assert (r.status_code, r.json()["detail"]["code"]) == (403, "not-assigning-agency")


async def test_late_compares_the_report_date_with_the_deadline_in_force_which_an_extension_moves(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    late, extended = await assigned(infra, http, clock), await assigned(infra, http, clock)
    await publish(
        infra.kafka,
        envelope(
            DeadlineExtended(
                request_id="r1",
                decided_by_agency_id=ASSIGNER,
                previous_due=date(2022, 11, 30),
                due=date(2022, 12, 31),
                deadline=deadline("2022-12-31"),
                original_due=date(2022, 11, 30),
            ),
            task_id=extended,
            at=clock.now(),
        ),
    )

    async def moved() -> bool:
        return (await task(http, extended))["due"] == "2022-12-31"

    await eventually(moved, what="the extension to move the deadline in force")
    timers = await live_timers(settings, extended)
    assert timers[-1]["dedup_key"].endswith(":2022-12-31") and timers[-1]["kind"] == "task-overdue"
    assert all("2022-11-30" not in t["dedup_key"] for t in timers)  # the old deadline's timers are gone

    clock.set(datetime(2022, 12, 2, 10, 0, tzinfo=VN_TZ))
    for task_id in (late, extended):
        assert (await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)).status_code == 202
    late_task, extended_task = await task(http, late), await task(http, extended)
    assert (late_task["on_time"], late_task["reported_on"], late_task["due"]) == (
        False,
        "2022-12-02",
        "2022-11-30",
    )
    assert (extended_task["on_time"], extended_task["original_due"]) == (True, "2022-11-30")


async def test_the_parent_rolls_up_its_children_and_completing_it_with_open_children_needs_a_reason(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    parent = await assigned(infra, http, clock)
    done = await assigned(infra, http, clock, parent=parent, lead="bd-thpt-bd", assigning=LEAD, due="2022-11-15")
    await assigned(infra, http, clock, parent=parent, lead="bd-thpt-tp", assigning=LEAD, due="2022-11-20")
    await post(http, settings, "bd-thpt-bd", f"/v1/tasks/{done}/complete", COMPLETION)
    assert (await post(http, settings, LEAD, f"/v1/tasks/{done}/confirm")).status_code == 202

    rollup = (await task(http, parent))["rollup"]
    assert rollup == {
        "children": 2,
        "completed": 1,
        "open": 1,
        "earliest_open_due": "2022-11-20",
        "any_overdue": False,
    }
    clock.set(datetime(2022, 11, 21, 9, 0, tzinfo=VN_TZ))
    assert (await task(http, parent))["rollup"]["any_overdue"] is True

    r = await post(http, settings, LEAD, f"/v1/tasks/{parent}/complete", COMPLETION)
    assert (r.status_code, r.json()["detail"]["code"]) == (409, "children-open")
    reason = "Trường THPT số 2 đã sáp nhập; phần việc do Sở trực tiếp thực hiện"
    r = await post(
        http, settings, LEAD, f"/v1/tasks/{parent}/complete", {**COMPLETION, "open_children_override": reason}
    )
    assert r.status_code == 202, r.text
    reported = await eventually(lambda: events.of(parent, "CompletionReported"), what="CompletionReported")
    assert reported[0].payload.model_dump()["open_children_override"] == reason


async def test_a_recurring_obligation_counts_each_occurrence_and_completing_one_opens_the_next(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    task_id = await assigned(infra, http, clock, due="trước ngày 30 tháng 9 hàng năm")
    assert (await task(http, task_id))["due"] == "2023-09-29"
    clock.set(datetime(2023, 9, 25, 9, 0, tzinfo=VN_TZ))
    await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", COMPLETION)
    assert (await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm")).status_code == 202

    t = await task(http, task_id)
    assert (t["status"], t["due"], t["percent"]) == ("in_progress", "2024-09-29", 0)
    assert [(c["due"], c["on_time"]) for c in t["completions"]] == [("2023-09-29", True)]
    assert (await live_timers(settings, task_id))[-1]["dedup_key"].endswith(":2024-09-29")
    completed = await eventually(lambda: events.of(task_id, "TaskCompleted"), what="TaskCompleted")
    assert completed[0].payload.model_dump(include={"deadline_in_force", "next_due"}) == {
        "deadline_in_force": date(2023, 9, 29),
        "next_due": date(2024, 9, 29),
    }


async def test_key_tasks_are_reminded_on_shorter_lead_times_and_a_task_can_override_them(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    ordinary, key = await assigned(infra, http, clock), await assigned(infra, http, clock, key_task=True)

    def lead_days(timers: list[dict[str, Any]]) -> list[int]:
        return [int(t["dedup_key"].rsplit(":", 1)[1]) for t in timers if t["kind"] == "deadline-approaching"]

    assert lead_days(await live_timers(settings, ordinary)) == [7, 3, 1]
    assert lead_days(await live_timers(settings, key)) == [3, 2, 1]
    r = await http.put(f"/v1/tasks/{key}/reminders", json={"lead_days": [5, 10]}, headers=bearer(settings, ASSIGNER))
    assert r.status_code == 202, r.text
    assert lead_days(await live_timers(settings, key)) == [10, 5]
    set_event = await eventually(lambda: events.of(key, "ReminderLeadTimesSet"), what="ReminderLeadTimesSet")
    assert set_event[0].payload.model_dump()["lead_days"] == (10, 5)


async def test_withdrawal_removes_the_timers_and_stops_reporting(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id = await assigned(infra, http, clock)
    assert await live_timers(settings, task_id)
    await publish(
        infra.kafka,
        envelope(
            TaskWithdrawn(withdrawn_by_agency_id=ASSIGNER, reason="Không còn phù hợp"),
            task_id=task_id,
            at=clock.now(),
        ),
    )

    async def withdrawn() -> bool:
        return await _status(http, task_id) == "withdrawn"

    await eventually(withdrawn, what="the withdrawal")
    assert await live_timers(settings, task_id) == []
    r = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/progress", {"percent": 50})
    assert (r.status_code, r.json()["detail"]["code"]) == (409, "task-withdrawn")


# --- Idempotency keys (issue 12 item 8) ------------------------------------------------------------------


async def _in_outbox(settings: Any, task_id: str, event_type: str) -> int:
    rows = await fetch(
        settings, "progress", "SELECT count(*) AS n FROM outbox WHERE key = $1 AND "
        "convert_from(value, 'UTF8')::jsonb->>'event_type' = $2", task_id, event_type,
    )  # fmt: skip
    return int(rows[0]["n"])


async def test_a_reused_key_with_another_body_is_409_and_changes_nothing(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id = await assigned(infra, http, clock)
    key, url = unique("k"), f"/v1/tasks/{task_id}/progress"
    sent = {"percent": 40, "note": "Đã khảo sát", "idempotency_key": key}
    first = await post(http, settings, LEAD, url, sent)
    again = await post(http, settings, LEAD, url, sent)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["event_id"] == first.json()["event_id"]

    changed = await post(http, settings, LEAD, url, {**sent, "percent": 90, "note": "Gần xong"})
    assert changed.status_code == 409
    detail = changed.json()["detail"]
    assert detail["code"] == "idempotency-conflict" and "Khóa" in detail["message_vi"]
    assert ((t := await task(http, task_id))["percent"], t["note"]) == (40, "Đã khảo sát")  # nothing changed
    assert await _in_outbox(settings, task_id, "ProgressReported") == 1

    # The same key on another command of the task is another body too.
    note = await post(http, settings, LEAD, f"/v1/tasks/{task_id}/notes", {"note": "Ghi chú", "idempotency_key": key})
    assert note.status_code == 409 and note.json()["detail"]["code"] == "idempotency-conflict"


async def test_a_retried_confirmation_answers_the_first_one_after_the_state_moved_on(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id = await assigned(infra, http, clock)
    completion = {**COMPLETION, "idempotency_key": unique("k")}
    assert (await post(http, settings, LEAD, f"/v1/tasks/{task_id}/complete", completion)).status_code == 202
    confirm = {"idempotency_key": unique("k")}
    first = await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm", confirm)
    again = await post(http, settings, ASSIGNER, f"/v1/tasks/{task_id}/confirm", confirm)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["event_id"] == first.json()["event_id"]
    assert await _in_outbox(settings, task_id, "TaskCompleted") == 1
