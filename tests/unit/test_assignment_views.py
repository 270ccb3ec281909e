"""The typed read models at the HTTP boundary (services/assignment/tasks/views.py, directory/views.py,
services/progress/routes.py) answer the JSON the routes answered as dicts: clients and the CLI read it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import TypeAdapter

from events.clock import VN_TZ
from events.deadlines import parse_deadline_or_date
from events.envelope import Actor, new_envelope
from events.tasks import ProgressReported
from services.assignment.directory.model import PersonRecord
from services.assignment.directory.views import PersonView, PublicPersonView
from services.assignment.tasks.model import VIEW_COLUMNS, TaskView
from services.progress.routes import Accepted

NOW = datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ)


def test_a_person_shown_to_outsiders_has_no_email_key_at_all() -> None:
    record = PersonRecord(person_id="cb-1", agency_id="so-tc", full_name="Trần Thị B", role="officer", email=None)
    full = PersonView.of(record, 3, NOW)
    answer = TypeAdapter(PersonView | PublicPersonView)
    assert "email" in answer.dump_python(full, mode="json")  # their agency sees it, even when empty
    assert "email" not in answer.dump_python(full.public(), mode="json")


def test_a_task_view_answers_every_column_but_the_command_hash_and_its_status() -> None:
    deadline = parse_deadline_or_date("31/12/2022", date(2022, 10, 6))
    columns = dict.fromkeys(VIEW_COLUMNS.split(", "))
    view = TaskView(
        **columns
        | {
            "task_id": "t-1",
            "code": "131/NQ-CP#1",
            "assigning_agency_id": "ubnd-tinh",
            "idempotency_key": "k",
            "title": "T",
            "description": "",
            "expected_product": "",
            "source_number": "131/NQ-CP",
            "source_issued_on": date(2022, 10, 6),
            "source_issuer": "Chính phủ",
            "lead_agency_id": "so-gddt",
            "coordinating_agency_ids": (),
            "deadline": deadline,
            "key_task": False,
            "classification": "mat",
            "assigned_at": NOW,
            "deadline_in_force": deadline,
            "coordinating_group_ids": (),
        }
    )
    shown = view.model_dump(mode="json")
    assert set(shown) == {*columns, "status"} and "command_hash" not in shown
    assert shown["status"] == "assigned" and shown["deadline"] == deadline.model_dump(mode="json")


def test_a_progress_command_answers_the_event_beside_its_id_and_type() -> None:
    payload = ProgressReported(percent=40, note="Đang làm")
    event = new_envelope(
        payload, event_id=uuid.uuid4(), occurred_at=NOW, producer="progress", actor=Actor(agency_id="a"), task_id="t-1"
    )
    shown = Accepted.of(event).model_dump(mode="json")
    assert shown == {
        "event_id": str(event.event_id),
        "event_type": "ProgressReported",
        "task_id": "t-1",
        **payload.model_dump(mode="json"),
    }
