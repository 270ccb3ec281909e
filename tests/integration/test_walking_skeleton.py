"""One task along the whole path, the five services in this process against the real broker and
database: assigned → alert to the officer → reminders and overdue as the clock moves → report → audit."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ, ManualClock
from services import registry
from services.assignment import provision
from tests.conftest import eventually, unique

pytestmark = pytest.mark.integration


# The officer in charge is a person of the lead agency, from the demo directory.
OFFICER = "p-bd-sgddt-officer-1"


async def ubnd_bd(settings: Any, clock: Any) -> dict[str, str]:
    """The demo directory loaded and a token of UBND tỉnh Bình Định: the assigner is the token's agency."""
    tokens = await provision.prepare(settings.database_url, clock, settings.token_secret, ["ubnd-bd"])
    return {"Authorization": f"Bearer {tokens['ubnd-bd'].token}"}


def assign_body(officer: str = OFFICER, *, deadline: str = "Tháng 11/2022", key: str | None = None) -> dict[str, Any]:
    return {
        "title": "Triển khai thanh toán học phí trực tuyến",
        "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
        "lead_agency_id": "bd-sgddt",
        "coordinating_agency_ids": ["bd-stc"],
        "officer_in_charge_id": officer,
        "deadline": deadline,
        "idempotency_key": key or unique("k"),
    }


async def test_a_task_travels_through_all_five_services(run_service: Any, settings: Any) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with AsyncExitStack() as stack:
        http = {
            name: await stack.enter_async_context(run_service(registry.definition(name), clock))
            for name in ("assignment", "progress", "alerts", "reporting", "audit")
        }
        officer = OFFICER
        token = await ubnd_bd(settings, clock)
        created = await http["assignment"].post("/v1/tasks", json=assign_body(), headers=token)
        assert created.status_code == 201, created.text
        task_id = created.json()["task_id"]
        assert created.json()["deadline"]["due"] == "2022-11-30"

        # The officer's inbox is read with a token of the officer's agency, the lead.
        lead = await provision.prepare(settings.database_url, clock, settings.token_secret, ["bd-sgddt"])
        lead_token = {"Authorization": f"Bearer {lead['bd-sgddt'].token}"}

        async def alerts_of_kind(kind: str) -> list[dict[str, Any]]:
            response = await http["alerts"].get("/v1/alerts", params={"person_id": officer}, headers=lead_token)
            assert response.status_code == 200, response.text
            inbox = response.json()["alerts"]
            return [a for a in inbox if a["task_id"] == task_id and a["kind"] == kind]

        # Generous: in a full run the consumers first catch up with every earlier test's events.
        assigned = await eventually(lambda: alerts_of_kind("assigned"), timeout=90, what="the assignment alert")
        assert "30/11/2022" in assigned[0]["message_vi"]

        # 7 working days before 30/11/2022 (a Wednesday) is Monday 21/11 at 08:00.
        clock.set(datetime(2022, 11, 21, 8, 0, 1, tzinfo=VN_TZ))
        approaching = await eventually(lambda: alerts_of_kind("approaching"), what="the 7-day reminder")
        assert "Còn 7 ngày làm việc" in approaching[0]["message_vi"]

        clock.set(datetime(2022, 12, 1, 0, 0, 1, tzinfo=VN_TZ))
        overdue = await eventually(lambda: alerts_of_kind("overdue"), what="the overdue alert")
        assert "quá hạn từ ngày 01/12/2022" in overdue[0]["message_vi"]
        # The 3- and 1-day reminders were due before the deadline passed: still raised, once each.
        assert len(await eventually(lambda: alerts_of_kind("approaching"), what="reminders")) <= 3

        async def overdue_in_report() -> dict[str, Any] | None:
            body = (
                await http["reporting"].get(
                    "/v1/reports/summary", params={"agency_id": "bd-sgddt", "document": "131/NQ-CP"}
                )
            ).json()
            return body if body["figures"]["unfinished_overdue"] >= 1 else None

        report = await eventually(overdue_in_report, timeout=60, what="the report to count the task overdue")
        assert report["figures"]["overdue_share"]["base"] == "assigned"

        async def history() -> list[str] | None:
            response = await http["audit"].get(f"/v1/audit/tasks/{task_id}")
            if response.status_code != 200:
                return None
            types = [e["event"]["event_type"] for e in response.json()["events"]]
            return types if "TaskOverdue" in types else None

        types = await eventually(history, timeout=60, what="the audit history")
        assert types[0] == "TaskAssigned"
        assert types.count("TaskOverdue") == 1


async def test_a_retried_assignment_returns_the_same_task(run_service: Any, settings: Any) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with run_service(registry.definition("assignment"), clock) as http:
        body, token = assign_body(), await ubnd_bd(settings, clock)
        first = await http.post("/v1/tasks", json=body, headers=token)
        again = await http.post("/v1/tasks", json=body, headers=token)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["task_id"] == again.json()["task_id"]


async def test_an_unreadable_deadline_is_refused_with_the_accepted_forms(run_service: Any, settings: Any) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with run_service(registry.definition("assignment"), clock) as http:
        response = await http.post(
            "/v1/tasks", json=assign_body(deadline="sớm nhất có thể"), headers=await ubnd_bd(settings, clock)
        )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "deadline-unreadable"
    assert "Quý" in detail["message"]
