"""Effective times set by the assignment service (events/effective.py) over HTTP on the real broker and DB:
taken from the assigning letter or the command, written on the envelope, refused in the future or before
the task they depend on, with a bilingual reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services import registry
from tests.conftest import running, unique
from tests.integration.test_assignment_support import bearer, body, clock, outbox_events, prepared

pytestmark = pytest.mark.integration

AGENCIES = ("ubnd-bd", "bd-sgddt", "bd-thpt-binh-duong")
LETTER = {"number": "6958/UBND-KSTT", "issued_on": "2022-11-21", "issuer": "UBND tỉnh Bình Định"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(settings: Any) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    async with running(registry.definition("assignment"), settings, clock()) as http:  # 25/11/2022
        yield http, await prepared(settings, *AGENCIES)


async def assign(api: Any, key: str, **fields: Any) -> Any:
    http, tokens = api
    return await http.post("/v1/tasks", json=body(key=key, **fields), headers=bearer(tokens["ubnd-bd"]))


async def test_a_task_counts_from_its_assigning_letters_date(api: Any, settings: Any) -> None:
    key = unique("eff")
    response = await assign(api, key, assigning_document=LETTER)
    assert response.status_code == 201, response.text
    [event] = [e for e in await outbox_events(settings.database_url, response.json()["task_id"])]
    assert event["effective_at"] == "2022-11-21T00:00:00+07:00"
    assert event["occurred_at"].startswith("2022-11-25")


async def test_a_task_assigned_as_it_happens_carries_no_effective_time(api: Any, settings: Any) -> None:
    response = await assign(api, unique("eff"))
    assert response.status_code == 201, response.text
    [event] = await outbox_events(settings.database_url, response.json()["task_id"])
    assert "effective_at" not in event


async def test_an_assignment_dated_in_the_future_is_refused_in_both_languages(api: Any) -> None:
    response = await assign(api, unique("eff"), assigned_on="2022-11-26")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "effective-date-in-future"
    assert "2022-11-26" in detail["message"] and "26/11/2022" in detail["message_vi"]


async def test_an_assignment_dated_before_its_source_document_is_refused(api: Any) -> None:
    response = await assign(api, unique("eff"), assigned_on="2022-10-01")  # 131/NQ-CP is of 06/10/2022
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["code"] == "effective-date-before-parent"


async def test_a_delegation_dated_before_its_parent_task_is_refused(api: Any) -> None:
    http, tokens = api
    parent = await assign(api, unique("eff"), assigning_document=LETTER)
    assert parent.status_code == 201, parent.text
    early = {"number": "1/SGDĐT-VP", "issued_on": "2022-11-20", "issuer": "Sở GDĐT"}
    response = await http.post(
        f"/v1/tasks/{parent.json()['task_id']}/delegations",
        headers=bearer(tokens["bd-sgddt"]),
        json={
            "idempotency_key": unique("d"),
            "document": early,
            "children": [{"lead_agency_id": "bd-thpt-binh-duong"}],
        },
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "effective-date-before-parent"
    assert "21/11/2022" in detail["message_vi"]


async def extension_requested(api: Any) -> tuple[str, str]:
    http, tokens = api
    task = await assign(api, unique("eff"), assigning_document=LETTER)  # counts from 21/11/2022
    task_id = task.json()["task_id"]
    asked = await http.post(
        f"/v1/tasks/{task_id}/extensions",
        headers=bearer(tokens["bd-sgddt"]),
        json={"proposed_due": "Tháng 6/2023", "reason": "Chờ nâng cấp Cổng", "idempotency_key": unique("x")},
    )
    assert asked.status_code == 201, asked.text
    return task_id, asked.json()["request_id"]


async def decide(api: Any, task_id: str, request_id: str, issued_on: str) -> Any:
    http, tokens = api
    decision = {"number": "10/QĐ-UBND", "issued_on": issued_on, "issuer": "UBND tỉnh Bình Định"}
    return await http.post(
        f"/v1/tasks/{task_id}/extensions/{request_id}/decision",
        headers=bearer(tokens["ubnd-bd"]),
        json={"decision": "approve", "document": decision},
    )


async def test_an_extension_counts_from_the_day_its_decision_was_issued(api: Any, settings: Any) -> None:
    task_id, request_id = await extension_requested(api)
    response = await decide(api, task_id, request_id, "2022-11-24")
    assert response.status_code == 200, response.text
    [extended] = [
        e for e in await outbox_events(settings.database_url, task_id) if e["event_type"] == "DeadlineExtended"
    ]
    assert extended["effective_at"] == "2022-11-24T00:00:00+07:00"


async def test_an_extension_decided_before_the_task_was_assigned_is_refused(api: Any) -> None:
    task_id, request_id = await extension_requested(api)
    response = await decide(api, task_id, request_id, "2022-11-20")
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["code"] == "effective-date-before-parent"
