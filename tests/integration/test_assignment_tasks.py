"""Assigning over HTTP, on the real broker and database: tokens, authority, idempotency, secrecy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from events.topics import TASK_EVENTS
from services import registry
from services.runtime import auth
from tests.conftest import running, unique
from tests.integration.test_assignment_support import (
    bearer,
    body,
    clock,
    kafka_records,
    outbox_events,
    payload,
    prepared,
)

pytestmark = pytest.mark.integration

AGENCIES = ("ubnd-bd", "bd-sgddt", "bd-stc", "vp-ubnd-bd")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(settings: Any) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    async with running(registry.definition("assignment"), settings, clock()) as http:
        yield http, await prepared(settings, *AGENCIES)


async def test_no_token_is_401_with_a_clear_message(api: Any) -> None:
    http, _ = api
    response = await http.post("/v1/tasks", json=body(key=unique("k")))
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_forged_token_is_401(api: Any, settings: Any) -> None:
    http, _ = api
    forged, _ = auth.issue("another-installation-secret", "ubnd-bd", clock().now())
    response = await http.post("/v1/tasks", json=body(key=unique("k")), headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and "signature" in response.json()["detail"]["message"]


async def test_a_signed_token_that_was_never_issued_is_401(api: Any, settings: Any) -> None:
    http, _ = api
    unrecorded, _ = auth.issue(settings.token_secret, "ubnd-bd", clock().now())
    response = await http.post(
        "/v1/tasks", json=body(key=unique("k")), headers={"Authorization": f"Bearer {unrecorded}"}
    )
    assert response.status_code == 401 and "not issued" in response.json()["detail"]["message"]


async def test_a_revoked_token_is_401(api: Any, settings: Any) -> None:
    http, _ = api
    token = (await prepared(settings, "ubnd-bd"))["ubnd-bd"]
    assert (await http.post("/v1/tasks", json=body(key=unique("k")), headers=bearer(token))).status_code == 201
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("UPDATE assignment.agency_tokens SET revoked_at = now() WHERE token_id = $1", token.token_id)
    finally:
        await conn.close()
    response = await http.post("/v1/tasks", json=body(key=unique("k")), headers=bearer(token))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]["message"]


async def test_only_the_tokens_hash_is_stored(api: Any, settings: Any) -> None:
    _, tokens = api
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchrow(
            "SELECT * FROM assignment.agency_tokens WHERE token_id = $1", tokens["ubnd-bd"].token_id
        )
    finally:
        await conn.close()
    assert stored["token_hash"] == auth.token_hash(tokens["ubnd-bd"].token)
    assert tokens["ubnd-bd"].token not in {str(v) for v in dict(stored).values()}


async def test_the_assigner_is_the_tokens_agency(api: Any) -> None:
    http, tokens = api
    created = await http.post("/v1/tasks", json=body(key=unique("k")), headers=bearer(tokens["ubnd-bd"]))
    assert created.status_code == 201 and created.json()["assigning_agency_id"] == "ubnd-bd"
    other = await http.post(
        "/v1/tasks", json=body(key=unique("k"), assigning_agency_id="cp"), headers=bearer(tokens["ubnd-bd"])
    )
    assert other.status_code == 403 and other.json()["detail"]["code"] == "acts-for-another-agency"


async def test_assigning_emits_task_assigned_on_the_task_topic(api: Any, settings: Any) -> None:
    http, tokens = api
    created = (
        await http.post(
            "/v1/tasks",
            json=body(key=unique("k"), coordinating_agency_ids=["bd-stc"]),
            headers=bearer(tokens["ubnd-bd"]),
        )
    ).json()
    task_id = created["task_id"]
    [record] = await kafka_records(
        settings,
        TASK_EVENTS,
        lambda kept: len(kept) == 1,
        keep=lambda r: r.key == task_id.encode(),
    )
    event = payload(record)
    assert (event["event_type"], event["payload"]["lead_agency_id"]) == ("TaskAssigned", "bd-sgddt")
    assert event["payload"]["deadline"]["due"] == "2023-03-31"


async def test_an_assigner_may_not_reach_outside_its_authority(api: Any) -> None:
    http, tokens = api
    sibling = await http.post("/v1/tasks", json=body("bd-stc", key=unique("k")), headers=bearer(tokens["bd-sgddt"]))
    assert sibling.status_code == 403 and sibling.json()["detail"]["code"] == "out-of-authority"
    assert "Sở Tài chính" in sibling.json()["detail"]["message_vi"]
    coordinating = await http.post(
        "/v1/tasks",
        json=body("bd-thpt-binh-duong", key=unique("k"), coordinating_agency_ids=["bd-stc"]),
        headers=bearer(tokens["bd-sgddt"]),
    )
    assert coordinating.status_code == 403  # every coordinating agency is checked too


async def test_can_assign_to_reaches_central_agencies_in_the_province(api: Any) -> None:
    http, tokens = api
    response = await http.post(
        "/v1/tasks", json=body("bd-cuc-thong-ke", key=unique("k")), headers=bearer(tokens["ubnd-bd"])
    )
    assert response.status_code == 201


async def test_unknown_agencies_and_groups_are_named(api: Any) -> None:
    http, tokens = api
    response = await http.post(
        "/v1/tasks", json=body("bd-khong-co", key=unique("k")), headers=bearer(tokens["ubnd-bd"])
    )
    assert response.status_code == 422 and response.json()["detail"]["code"] == "unknown-agency"
    assert "bd-khong-co" in response.json()["detail"]["message"]
    groups = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), coordinating_group_ids=["g-khong-co"]),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert groups.status_code == 422 and groups.json()["detail"]["code"] == "unknown-group"


async def test_the_officer_in_charge_works_in_the_lead_agency(api: Any) -> None:
    http, tokens = api
    ok = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), officer_in_charge_id="p-bd-sgddt-officer-1"),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert ok.status_code == 201
    unit = await http.post(
        "/v1/tasks",
        json=body("bd-thpt-bd-to-van-phong", key=unique("k"), officer_in_charge_id="p-bd-thpt-bd-ke-toan-head"),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert unit.status_code == 201  # the accountant's unit is inside the Tổ văn phòng
    elsewhere = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), officer_in_charge_id="p-bd-stc-officer-1"),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["detail"]["code"] == "officer-not-in-lead-agency"


async def test_a_retry_returns_the_same_task_and_emits_nothing_new(api: Any, settings: Any) -> None:
    http, tokens = api
    request = body(key=unique("k"))
    first = await http.post("/v1/tasks", json=request, headers=bearer(tokens["ubnd-bd"]))
    again = await http.post("/v1/tasks", json=request, headers=bearer(tokens["ubnd-bd"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["task_id"] == again.json()["task_id"]
    assert len(await outbox_events(settings.database_url, first.json()["task_id"])) == 1


async def test_the_same_key_with_other_content_is_a_conflict(api: Any) -> None:
    http, tokens = api
    key = unique("k")
    await http.post("/v1/tasks", json=body(key=key), headers=bearer(tokens["ubnd-bd"]))
    changed = await http.post(
        "/v1/tasks", json=body(key=key, deadline="Tháng 4/2023"), headers=bearer(tokens["ubnd-bd"])
    )
    assert changed.status_code == 409 and changed.json()["detail"]["code"] == "idempotency-conflict"


async def test_deadlines_are_parsed_and_impossible_ones_refused(api: Any) -> None:
    http, tokens = api
    quarter = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), deadline="chậm nhất trong quý I năm 2023"),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert quarter.json()["deadline"]["due"] == "2023-03-31"
    unreadable = await http.post(
        "/v1/tasks", json=body(key=unique("k"), deadline="31/02/2023"), headers=bearer(tokens["ubnd-bd"])
    )
    assert unreadable.status_code == 422 and unreadable.json()["detail"]["code"] == "deadline-unreadable"
    before = await http.post(
        "/v1/tasks", json=body(key=unique("k"), deadline="Tháng 9/2022"), headers=bearer(tokens["ubnd-bd"])
    )
    assert before.json()["detail"]["code"] == "deadline-before-document"


async def test_a_secret_task_is_seen_only_by_the_agencies_involved(api: Any) -> None:
    http, tokens = api
    created = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), classification="mat", coordinating_agency_ids=["vp-ubnd-bd"]),
        headers=bearer(tokens["ubnd-bd"]),
    )
    task_id = created.json()["task_id"]
    for agency in ("ubnd-bd", "bd-sgddt", "vp-ubnd-bd"):
        assert (await http.get(f"/v1/tasks/{task_id}", headers=bearer(tokens[agency]))).status_code == 200
    assert (await http.get(f"/v1/tasks/{task_id}", headers=bearer(tokens["bd-stc"]))).status_code == 404
    assert (await http.get(f"/v1/tasks/{task_id}")).status_code == 404
    listed = await http.get("/v1/tasks", params={"lead_agency_id": "bd-sgddt"}, headers=bearer(tokens["bd-stc"]))
    assert task_id not in {t["task_id"] for t in listed.json()["tasks"]}
