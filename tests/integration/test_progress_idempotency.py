"""Issue 12 item 8: a reused idempotency key with a different body is 409 and changes nothing; the same key
with the same body answers the first outcome and emits nothing new."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.topics import TASK_EVENTS
from services.progress.bootstrap import definition
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import Events, assign, bearer, fetch, topic_events

pytestmark = pytest.mark.integration

LEAD, ASSIGNER = "bd-sgddt", "ubnd-bd"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    async with run_service(definition(), clock) as client:
        yield client


@pytest.fixture
async def events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka_bootstrap, TASK_EVENTS, 6) as found:
        yield found


async def _known(http: httpx.AsyncClient, task_id: str) -> bool:
    return (await http.get(f"/v1/tasks/{task_id}")).status_code == 200


async def _outbox(settings: Any, task_id: str, event_type: str) -> int:
    rows = await fetch(
        settings, "progress", "SELECT count(*) AS n FROM outbox WHERE key = $1 AND topic = $2 AND "
        "convert_from(value, 'UTF8')::jsonb->>'event_type' = $3", task_id, TASK_EVENTS, event_type,
    )  # fmt: skip
    return int(rows[0]["n"])


async def test_a_reused_key_with_another_body_is_409_and_changes_nothing(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, events: Events
) -> None:
    task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer="p-officer", coordinating=("bd-stc",))
    await eventually(lambda: _known(http, task_id), what="the progress service to know the task")
    key, auth = unique("k"), bearer(settings, LEAD)
    url = f"/v1/tasks/{task_id}/progress"

    first = await http.post(url, json={"percent": 40, "note": "Đã khảo sát", "idempotency_key": key}, headers=auth)
    assert first.status_code == 202, first.text
    again = await http.post(url, json={"percent": 40, "note": "Đã khảo sát", "idempotency_key": key}, headers=auth)
    assert again.status_code == 202 and again.json()["event_id"] == first.json()["event_id"]

    changed = await http.post(url, json={"percent": 90, "note": "Gần xong", "idempotency_key": key}, headers=auth)
    assert changed.status_code == 409
    detail = changed.json()["detail"]
    assert detail["code"] == "idempotency-conflict" and "Khóa" in detail["message_vi"]

    task = (await http.get(f"/v1/tasks/{task_id}")).json()
    assert (task["percent"], task["note"]) == (40, "Đã khảo sát")  # nothing changed
    assert await _outbox(settings, task_id, "ProgressReported") == 1

    # The same key on another command of the task is another body too.
    note = await http.post(f"/v1/tasks/{task_id}/notes", json={"note": "Ghi chú", "idempotency_key": key}, headers=auth)
    assert note.status_code == 409 and note.json()["detail"]["code"] == "idempotency-conflict"


async def test_a_retried_confirmation_answers_the_first_one_after_the_state_moved_on(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    task_id, _ = await assign(infra.kafka_bootstrap, clock.now(), officer="p-officer", coordinating=("bd-stc",))
    await eventually(lambda: _known(http, task_id), what="the progress service to know the task")
    completion = {"product": "Báo cáo số 125/BC-SGDĐT", "idempotency_key": unique("k")}
    assert (
        await http.post(f"/v1/tasks/{task_id}/complete", json=completion, headers=bearer(settings, LEAD))
    ).status_code == 202
    confirm = {"idempotency_key": unique("k")}
    first = await http.post(f"/v1/tasks/{task_id}/confirm", json=confirm, headers=bearer(settings, ASSIGNER))
    again = await http.post(f"/v1/tasks/{task_id}/confirm", json=confirm, headers=bearer(settings, ASSIGNER))
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["event_id"] == first.json()["event_id"]
    assert await _outbox(settings, task_id, "TaskCompleted") == 1
