"""The deadline lane (services/alerts/deadline_lane.py) applies a deadline event ahead of the consumer only
when every earlier event of its task is applied, and the tables end as the consumer alone makes them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from events.clock import VN_TZ
from events.deadlines import parse_deadline_or_date
from events.directory import AgencyChanged, PersonChanged
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.tasks import SourceDocument, TaskAssigned, TaskCompleted, TaskOverdue
from services.alerts.deadline_lane import Lane
from services.registry import definition
from tests.conftest import unique
from tests.integration.test_alert_progress_batches import consumer, fresh_schema, tables
from tests.integration.test_report_batches import records_of
from tests.integration.test_report_paths import START

pytestmark = pytest.mark.integration

DUE = date(2022, 6, 30)


def _event(payload: EventPayload, task_id: str | None, agency: str) -> Envelope:
    return new_envelope(
        payload, event_id=uuid.uuid4(), occurred_at=START, producer="test", actor=Actor(agency_id=agency),
        task_id=task_id,
    )  # fmt: skip


def _assigned(task_id: str, lead: str) -> Envelope:
    doc = SourceDocument(number="1/NQ-T", issued_on=date(2022, 1, 3), issuer="Chính phủ")
    deadline = parse_deadline_or_date(DUE.isoformat(), doc.issued_on)
    return _event(
        TaskAssigned(
            code=f"1/NQ-T#{task_id}", title=f"Nhiệm vụ {task_id}", source_document=doc, assigning_agency_id="cp",
            lead_agency_id=lead, officer_in_charge_id=f"head-{lead}", deadline=deadline,
        ),
        task_id,
        "cp",
    )  # fmt: skip


def _overdue(task_id: str, lead: str) -> Envelope:
    since = datetime.combine(DUE + timedelta(days=1), time(0, 0), tzinfo=VN_TZ)
    return _event(TaskOverdue(due=DUE, overdue_since=since), task_id, lead)


def _completed(task_id: str, lead: str) -> Envelope:
    done = TaskCompleted(reported_on=DUE, deadline_in_force=DUE, on_time=True, product="Báo cáo")
    return _event(done, task_id, lead)


async def test_a_deadline_event_goes_ahead_only_of_tasks_with_nothing_pending_and_changes_no_outcome(
    infra: Any,
) -> None:
    lead = unique("so")
    ready, behind = unique("t-ready"), unique("t-behind")
    agency = AgencyChanged(agency_id=lead, name="Sở", level="so-nganh", parent_id=None, version=1)
    head = PersonChanged(person_id=f"head-{lead}", agency_id=lead, full_name="Thủ trưởng", role="head", version=1)
    directory = [_event(agency, None, "cp"), _event(head, None, "cp")]
    applied = [_assigned(ready, lead), _assigned(behind, lead)]
    # Still to be applied by the consumer (a backlog): the completion of one task before its overdue.
    backlog = [_completed(behind, lead), _overdue(behind, lead), _overdue(ready, lead)]
    log = records_of(directory + applied + backlog)
    service = definition("alerts")
    lane_pool, lane_schema = await fresh_schema(infra.database_url, service)
    alone_pool, alone_schema = await fresh_schema(infra.database_url, service)
    try:
        with_lane = consumer(lane_pool, lane_schema, service, batched=True)
        await with_lane.handle_batch(log[: len(directory) + len(applied)])

        assert await Lane(with_lane).take(log) == 1, "only the overdue of the task with nothing pending goes ahead"
        kinds = {(r["task_id"], r["kind"]) for r in await lane_pool.fetch(f'SELECT * FROM "{lane_schema}".alerts')}
        assert (ready, "overdue") in kinds, "the deadline alert did not wait for the backlog"
        assert (behind, "overdue") not in kinds, "an overdue went ahead of its own task's completion"

        await with_lane.handle_batch(log)  # the consumer reaches the backlog: the lane's event is a duplicate
        alone = consumer(alone_pool, alone_schema, service, batched=False)
        for record in log:
            await alone.handle_batch([record])
        assert await tables(lane_pool, lane_schema) == await tables(alone_pool, alone_schema)
    finally:
        for pool, name in ((lane_pool, lane_schema), (alone_pool, alone_schema)):
            async with pool.acquire() as conn:
                await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
            await pool.close()
