"""Issue 12 item 3 on the real assignment service: a 5 MB task description is refused (413), a field over
its limit too (422), nothing of either reaches the outbox, and the relay keeps publishing what follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from events import limits
from events.topics import TASK_EVENTS
from services import registry
from services.assignment.tasks.rules import task_id_for
from tests.conftest import running, unique
from tests.integration.test_assignment_support import bearer, body, clock, kafka_records, payload, prepared

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(settings: Any) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    async with running(registry.definition("assignment"), settings, clock()) as http:
        yield http, await prepared(settings, "ubnd-bd", "bd-sgddt")


async def _stored(settings: Any, task_id: str) -> tuple[int, int]:
    """(outbox rows, task rows) of a task id."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        outbox = await conn.fetchval("SELECT count(*) FROM assignment.outbox WHERE key = $1", task_id)
        tasks = await conn.fetchval("SELECT count(*) FROM assignment.tasks WHERE task_id = $1", task_id)
    finally:
        await conn.close()
    return outbox, tasks


async def test_a_5_mb_description_is_413_and_nothing_reaches_the_outbox(api: Any, settings: Any) -> None:
    http, tokens = api
    key = unique("k")
    huge = body(key=key, description="Mô tả rất dài. " * (5 * 1024 * 1024 // 16))
    response = await http.post("/v1/tasks", json=huge, headers=bearer(tokens["ubnd-bd"]))
    assert response.status_code == 413, response.text[:500]
    detail = response.json()["detail"]
    assert detail["code"] == "body-too-large" and str(limits.HTTP_BODY_MAX_BYTES) in detail["message"]
    assert "byte" in detail["message_vi"]
    assert await _stored(settings, task_id_for("ubnd-bd", key)) == (0, 0)


async def test_a_description_over_its_limit_is_422_and_nothing_reaches_the_outbox(api: Any, settings: Any) -> None:
    http, tokens = api
    key = unique("k")
    long = body(key=key, description="x" * (limits.LONG_TEXT_MAX + 1))  # well within the body limit
    response = await http.post("/v1/tasks", json=long, headers=bearer(tokens["ubnd-bd"]))
    assert response.status_code == 422
    refusal = response.json()
    assert refusal["code"] == "field-too-long"
    assert f"description is too long: at most {limits.LONG_TEXT_MAX} characters" in refusal["message"]
    assert f"tối đa {limits.LONG_TEXT_MAX} ký tự" in refusal["message_vi"]
    assert "xxxxxxxxxx" not in response.text
    assert await _stored(settings, task_id_for("ubnd-bd", key)) == (0, 0)


async def test_after_a_refused_giant_the_next_task_is_still_published(api: Any, settings: Any) -> None:
    """The demo stack's wedge: a giant row at the head of the outbox held back every later event."""
    http, tokens = api
    giant = body(key=unique("k"), description="x" * (2 * 1024 * 1024))
    assert (await http.post("/v1/tasks", json=giant, headers=bearer(tokens["ubnd-bd"]))).status_code == 413
    fine = await http.post(
        "/v1/tasks",
        json=body(key=unique("k"), description="x" * limits.LONG_TEXT_MAX),
        headers=bearer(tokens["ubnd-bd"]),
    )
    assert fine.status_code == 201, fine.text[:500]
    task_id = fine.json()["task_id"]
    records = await kafka_records(
        settings, TASK_EVENTS, lambda found: bool(found), keep=lambda r: r.key == task_id.encode()
    )
    assert payload(records[0])["event_type"] == "TaskAssigned"
