"""Delegation down the tree (giao tiếp), extensions (gia hạn) and withdrawal (rút nhiệm vụ) over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services import registry
from tests.conftest import running, unique
from tests.integration.test_assignment_support import bearer, body, clock, outbox_events, prepared

pytestmark = pytest.mark.integration

AGENCIES = ("ubnd-bd", "vp-ubnd-bd", "bd-sgddt", "bd-thpt-binh-duong", "bd-stc", "bd-sgddt-pkhtc")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(settings: Any) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    async with running(registry.definition("assignment"), settings, clock()) as http:
        yield http, await prepared(settings, *AGENCIES)


async def assigned(api: Any, lead: str = "bd-sgddt", **fields: Any) -> dict[str, Any]:
    http, tokens = api
    response = await http.post(
        "/v1/tasks", json=body(lead, key=unique("k"), **fields), headers=bearer(tokens["ubnd-bd"])
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def delegate(api: Any, task_id: str, agency: str, *children: dict[str, Any], key: str | None = None) -> Any:
    http, tokens = api
    return await http.post(
        f"/v1/tasks/{task_id}/delegations",
        headers=bearer(tokens[agency]),
        json={"idempotency_key": key or unique("d"), "children": list(children)},
    )


# ------------------------------------------------------------------------------------------ delegation


async def test_the_lead_hands_a_task_down_as_linked_children(api: Any, settings: Any) -> None:
    parent = await assigned(api)
    response = await delegate(
        api,
        parent["task_id"],
        "bd-sgddt",
        {"lead_agency_id": "bd-thpt-binh-duong"},
        {
            "lead_agency_id": "bd-sgddt-pkhtc",
            "coordinating_agency_ids": ["bd-sgddt-vp"],
            "deadline": "Tháng 1/2023",
            "title": "Xây dựng quy trình",
        },
    )
    assert response.status_code == 201, response.text
    first, second = response.json()["children"]
    assert (first["parent_task_id"], first["assigning_agency_id"]) == (parent["task_id"], "bd-sgddt")
    assert first["deadline_in_force"]["due"] == "2023-03-31"  # the parent's, when the letter sets none
    assert second["deadline"]["due"] == "2023-01-31" and second["code"] == parent["code"] + ".2"
    parent_events = [e["event_type"] for e in await outbox_events(settings.database_url, parent["task_id"])]
    assert parent_events == ["TaskAssigned", "TaskDelegated"]
    child_events = await outbox_events(settings.database_url, first["task_id"])
    assert [(e["event_type"], e["payload"]["parent_task_id"]) for e in child_events] == [
        ("TaskAssigned", parent["task_id"])
    ]


async def test_a_childs_deadline_may_not_be_later_than_its_parents(api: Any) -> None:
    parent = await assigned(api)
    response = await delegate(
        api,
        parent["task_id"],
        "bd-sgddt",
        {"lead_agency_id": "bd-thpt-binh-duong", "deadline": "Tháng 4/2023"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "deadline-after-parent" and "31/03/2023" in detail["message_vi"]


async def test_delegation_goes_only_to_agencies_under_the_delegator(api: Any) -> None:
    parent = await assigned(api)
    response = await delegate(api, parent["task_id"], "bd-sgddt", {"lead_agency_id": "bd-stc"})
    assert response.status_code == 403 and response.json()["detail"]["code"] == "out-of-authority"


async def test_an_agency_not_on_the_task_cannot_delegate_it(api: Any) -> None:
    parent = await assigned(api)
    response = await delegate(api, parent["task_id"], "bd-stc", {"lead_agency_id": "bd-stc"})
    assert response.status_code == 403 and response.json()["detail"]["code"] == "not-task-party"
    assigner = await delegate(api, parent["task_id"], "ubnd-bd", {"lead_agency_id": "bd-stc"})
    assert assigner.status_code == 403  # the assigner assigns; it does not delegate what it gave away


async def test_a_coordinating_agency_delegates_its_own_part(api: Any, settings: Any) -> None:
    parent = await assigned(api, "vp-ubnd-bd", coordinating_agency_ids=["bd-sgddt"])  # task 13's shape
    response = await delegate(api, parent["task_id"], "bd-sgddt", {"lead_agency_id": "bd-thpt-binh-duong"})
    assert response.status_code == 201
    [delegated] = [
        e for e in await outbox_events(settings.database_url, parent["task_id"]) if e["event_type"] == "TaskDelegated"
    ]
    assert delegated["payload"]["delegating_role"] == "phoi-hop"


async def test_a_retried_delegation_returns_the_same_children(api: Any) -> None:
    parent = await assigned(api)
    child = {"lead_agency_id": "bd-thpt-binh-duong"}
    first = await delegate(api, parent["task_id"], "bd-sgddt", child, key="d-same")
    again = await delegate(api, parent["task_id"], "bd-sgddt", child, key="d-same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert [c["task_id"] for c in first.json()["children"]] == [c["task_id"] for c in again.json()["children"]]


async def test_a_secret_task_stays_secret_down_the_chain(api: Any) -> None:
    parent = await assigned(api, classification="mat")
    [child] = (await delegate(api, parent["task_id"], "bd-sgddt", {"lead_agency_id": "bd-thpt-binh-duong"})).json()[
        "children"
    ]
    assert child["classification"] == "mat"


# ------------------------------------------------------------------------------------------ extensions


async def ask(api: Any, task_id: str, agency: str, proposed: str = "Tháng 6/2023") -> Any:
    http, tokens = api
    return await http.post(
        f"/v1/tasks/{task_id}/extensions",
        headers=bearer(tokens[agency]),
        json={
            "proposed_due": proposed,
            "reason": "Chờ Cổng Dịch vụ công nâng cấp",
            "idempotency_key": unique("x"),
        },
    )


async def decide(api: Any, task_id: str, request_id: str, agency: str, **decision: Any) -> Any:
    http, tokens = api
    return await http.post(
        f"/v1/tasks/{task_id}/extensions/{request_id}/decision", headers=bearer(tokens[agency]), json=decision
    )


async def test_only_the_lead_asks_for_an_extension(api: Any) -> None:
    task = await assigned(api)
    refused = await ask(api, task["task_id"], "ubnd-bd")
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "not-lead"
    asked = await ask(api, task["task_id"], "bd-sgddt")
    assert asked.status_code == 201 and asked.json()["status"] == "pending"


async def test_the_deadline_in_force_changes_only_when_the_assigner_approves(api: Any, settings: Any) -> None:
    task = await assigned(api)
    request_id = (await ask(api, task["task_id"], "bd-sgddt")).json()["request_id"]
    by_lead = await decide(api, task["task_id"], request_id, "bd-sgddt", decision="approve")
    assert by_lead.status_code == 403 and by_lead.json()["detail"]["code"] == "not-assigner"
    approved = await decide(api, task["task_id"], request_id, "ubnd-bd", decision="approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    after = approved.json()["task"]
    assert (after["deadline"]["due"], after["deadline_in_force"]["due"]) == ("2023-03-31", "2023-06-30")
    types = [e["event_type"] for e in await outbox_events(settings.database_url, task["task_id"])]
    assert types == ["TaskAssigned", "DeadlineExtensionRequested", "DeadlineExtended"]


async def test_an_extension_is_rejected_with_a_reason(api: Any) -> None:
    task = await assigned(api)
    request_id = (await ask(api, task["task_id"], "bd-sgddt")).json()["request_id"]
    rejected = await decide(
        api,
        task["task_id"],
        request_id,
        "ubnd-bd",
        decision="reject",
        reason="Nhiệm vụ trọng tâm, không lùi thời hạn",
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["task"]["deadline_in_force"]["due"] == "2023-03-31"
    again = await decide(api, task["task_id"], request_id, "ubnd-bd", decision="approve")
    assert again.status_code == 409 and again.json()["detail"]["code"] == "extension-already-decided"


async def test_one_pending_request_at_a_time_and_only_later_dates(api: Any) -> None:
    task = await assigned(api)
    assert (await ask(api, task["task_id"], "bd-sgddt")).status_code == 201
    second = await ask(api, task["task_id"], "bd-sgddt")
    assert second.status_code == 409 and second.json()["detail"]["code"] == "extension-pending"
    earlier = await ask(api, (await assigned(api))["task_id"], "bd-sgddt", proposed="Tháng 2/2023")
    assert earlier.json()["detail"]["code"] == "extension-not-later"


async def test_a_child_is_not_extended_past_its_parent(api: Any) -> None:
    parent = await assigned(api)
    [child] = (
        await delegate(
            api,
            parent["task_id"],
            "bd-sgddt",
            {"lead_agency_id": "bd-thpt-binh-duong", "deadline": "Tháng 1/2023"},
        )
    ).json()["children"]
    request_id = (await ask(api, child["task_id"], "bd-thpt-binh-duong", proposed="Tháng 5/2023")).json()["request_id"]
    response = await decide(api, child["task_id"], request_id, "bd-sgddt", decision="approve")
    assert response.status_code == 422 and response.json()["detail"]["code"] == "deadline-after-parent"


# ------------------------------------------------------------------------------------------ withdrawal


async def test_the_assigner_withdraws_a_task_with_what_was_delegated_from_it(api: Any, settings: Any) -> None:
    http, tokens = api
    parent = await assigned(api)
    [child] = (await delegate(api, parent["task_id"], "bd-sgddt", {"lead_agency_id": "bd-thpt-binh-duong"})).json()[
        "children"
    ]
    by_lead = await http.post(
        f"/v1/tasks/{parent['task_id']}/withdrawal", json={"reason": "x"}, headers=bearer(tokens["bd-sgddt"])
    )
    assert by_lead.status_code == 403 and by_lead.json()["detail"]["code"] == "not-assigner"
    withdrawn = await http.post(
        f"/v1/tasks/{parent['task_id']}/withdrawal",
        headers=bearer(tokens["ubnd-bd"]),
        json={"reason": "Đã lồng ghép vào nhiệm vụ khác"},
    )
    assert withdrawn.json()["withdrawn_task_ids"] == [parent["task_id"], child["task_id"]]
    assert withdrawn.json()["task"]["status"] == "withdrawn"
    [event] = [
        e for e in await outbox_events(settings.database_url, child["task_id"]) if e["event_type"] == "TaskWithdrawn"
    ]
    assert event["payload"]["cascaded_from_task_id"] == parent["task_id"]
    twice = await http.post(
        f"/v1/tasks/{parent['task_id']}/withdrawal",
        headers=bearer(tokens["ubnd-bd"]),
        json={"reason": "lần nữa"},
    )
    assert twice.status_code == 200 and twice.json()["withdrawn_task_ids"] == []


async def test_a_withdrawn_task_is_neither_delegated_nor_extended(api: Any) -> None:
    http, tokens = api
    task = await assigned(api)
    await http.post(f"/v1/tasks/{task['task_id']}/withdrawal", headers=bearer(tokens["ubnd-bd"]), json={"reason": "x"})
    delegated = await delegate(api, task["task_id"], "bd-sgddt", {"lead_agency_id": "bd-thpt-binh-duong"})
    asked = await ask(api, task["task_id"], "bd-sgddt")
    assert [delegated.json()["detail"]["code"], asked.json()["detail"]["code"]] == ["task-withdrawn"] * 2


async def test_a_reused_extension_key_with_another_request_is_409_and_changes_nothing(api: Any, settings: Any) -> None:
    http, tokens = api
    task = await assigned(api)
    url, key = f"/v1/tasks/{task['task_id']}/extensions", unique("x")
    request = {"proposed_due": "Tháng 6/2023", "reason": "Chờ Cổng Dịch vụ công nâng cấp", "idempotency_key": key}
    first = await http.post(url, headers=bearer(tokens["bd-sgddt"]), json=request)
    again = await http.post(url, headers=bearer(tokens["bd-sgddt"]), json=request)
    assert (first.status_code, again.status_code) == (201, 200)
    changed = await http.post(url, headers=bearer(tokens["bd-sgddt"]), json={**request, "proposed_due": "Tháng 9/2023"})
    assert changed.status_code == 409 and changed.json()["detail"]["code"] == "idempotency-conflict"
    types = [e["event_type"] for e in await outbox_events(settings.database_url, task["task_id"])]
    assert types == ["TaskAssigned", "DeadlineExtensionRequested"]
