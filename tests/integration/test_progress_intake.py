"""Progress commands over dondoc.intake (signed agency messages) on the real broker and database: the
lead's command becomes its event; a coordinator's is refused with a reason; a replay is refused; a
forged one is left alone (the assignment service answers those)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from events.clock import VN_TZ, ManualClock
from events.intake import signed_headers, signing_key
from events.topics import INTAKE, INTAKE_REJECTED, TASK_EVENTS
from services.progress.bootstrap import definition
from services.runtime.kafka_config import producer_options
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import Events, assign, fetch, topic_events

pytestmark = pytest.mark.integration

LEAD, COORDINATOR = "bd-sgddt", "bd-stc"


async def send(
    settings: Any,
    agency: str,
    command_type: str,
    payload: dict[str, Any],
    *,
    command_id: str | None = None,
    secret: str | None = None,
) -> str:
    command_id = command_id or unique("cmd")
    body = json.dumps({"command_type": command_type, "command_id": command_id, "payload": payload}).encode()
    key = signing_key(secret or settings.token_secret, agency, "k1")
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            INTAKE, body, key=agency.encode(), headers=signed_headers(key, agency, "k1", body, time.time())
        )
    finally:
        await producer.stop()
    return command_id


@pytest.fixture
async def task_events(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, TASK_EVENTS, 6) as found:
        yield found


@pytest.fixture
async def rejected(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, INTAKE_REJECTED, 3) as found:
        yield found


async def rejections(rejected: Events, command_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(r.value)["payload"] for r in await rejected.records()]  # keyed by agency, not task
    return [b for b in bodies if b.get("command_id") == command_id]


async def test_an_intake_command_of_the_lead_becomes_its_event_and_a_coordinators_is_refused(
    infra: Any, settings: Any, run_service: Any, task_events: Events, rejected: Events
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with run_service(definition(), clock) as http:
        task_id, _ = await assign(infra.kafka, clock.now(), officer="p-1", coordinating=(COORDINATOR,))

        async def known() -> bool:
            return (await http.get(f"/v1/tasks/{task_id}")).status_code == 200

        await eventually(known, what="the task")
        accepted = await send(settings, LEAD, "ReportProgress", {"task_id": task_id, "percent": 60})
        refused = await send(settings, COORDINATOR, "ReportCompletion", {"task_id": task_id, "product": "BC"})
        replayed = await send(
            settings, LEAD, "ReportProgress", {"task_id": task_id, "percent": 70}, command_id=accepted
        )
        forged = await send(
            settings,
            LEAD,
            "ReportProgress",
            {"task_id": task_id, "percent": 99},
            secret="not-the-installation-secret",
        )

        reported = await eventually(lambda: task_events.of(task_id, "ProgressReported"), what="ProgressReported")
        assert [e.payload.model_dump()["percent"] for e in reported] == [60]
        assert reported[0].actor.agency_id == LEAD
        refusal = await eventually(lambda: rejections(rejected, refused), what="the coordinator's rejection")
        assert refusal[0]["code"] == "coordinator-cannot-report" and refusal[0]["agency_id"] == COORDINATOR
        assert "cơ quan chủ trì" in refusal[0]["message_vi"]
        replay = await eventually(lambda: rejections(rejected, replayed), what="the replay's rejection")
        assert [r["code"] for r in replay] == ["replayed"]
        assert (await http.get(f"/v1/tasks/{task_id}")).json()["percent"] == 60  # neither replay nor forgery ran
        rows = await fetch(
            settings,
            "progress",
            "SELECT command_id, outcome, code FROM intake_commands WHERE command_id = ANY($1) ORDER BY outcome",
            [accepted, refused, forged],
        )
        assert [(r["outcome"], r["code"]) for r in rows] == [
            ("accepted", None),
            ("rejected", "coordinator-cannot-report"),
        ]
