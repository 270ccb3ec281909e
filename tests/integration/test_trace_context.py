"""The W3C trace context of a POST reaches the events its handlers produce downstream (runtime/tracing.py):
assignment and alerts in this process against the real broker, the trace read back from the Kafka headers."""

from __future__ import annotations

import json
import secrets
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import pytest

from events.clock import VN_TZ, ManualClock
from events.topics import ALERT_EVENTS, TASK_EVENTS
from services import registry
from services.runtime import tracing
from tests.conftest import eventually
from tests.integration.kafka_tools import TopicReader, header
from tests.integration.test_walking_skeleton import assign_body, ubnd_bd

pytestmark = pytest.mark.integration


async def test_the_trace_of_a_post_reaches_the_task_event_and_the_alert_it_causes(
    run_service: Any, settings: Any
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    async with AsyncExitStack() as stack:
        assignment = await stack.enter_async_context(run_service(registry.definition("assignment"), clock))
        await stack.enter_async_context(run_service(registry.definition("alerts"), clock))
        headers = {**await ubnd_bd(settings, clock), "traceparent": f"00-{trace_id}-{caller_span}-01"}
        created = await assignment.post("/v1/tasks", json=assign_body(), headers=headers)
        assert created.status_code == 201, created.text
        task_id = created.json()["task_id"]
        answered = tracing.parse(created.headers["traceparent"])
        assert answered is not None and answered[0] == trace_id and answered[1] != caller_span

        tasks = await stack.enter_async_context(TopicReader(settings, TASK_EVENTS, partitions=6))
        alerts = await stack.enter_async_context(TopicReader(settings, ALERT_EVENTS, partitions=3))

        async def of_task(reader: TopicReader, event_type: str) -> Any:
            for record in await reader.read():
                value = json.loads(record.value)
                if value.get("task_id") == task_id and value.get("event_type") == event_type:
                    return record
            return None

        assigned = await eventually(lambda: of_task(tasks, "TaskAssigned"), timeout=30, what="TaskAssigned")
        alert = await eventually(lambda: of_task(alerts, "AlertRaised"), timeout=30, what="the officer's alert")

    assigned_trace = tracing.parse(header(assigned, "traceparent"))
    alert_trace = tracing.parse(header(alert, "traceparent"))
    assert assigned_trace is not None and assigned_trace[0] == trace_id
    assert alert_trace is not None and alert_trace[0] == trace_id, "the consumer continued the trace"
    assert alert_trace[1] not in (assigned_trace[1], caller_span), "the alert was raised in a span of its own"


async def test_the_overdue_event_of_a_timer_continues_the_trace_of_the_post_that_planned_it(
    run_service: Any, settings: Any
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    trace_id = secrets.token_hex(16)
    async with AsyncExitStack() as stack:
        assignment = await stack.enter_async_context(run_service(registry.definition("assignment"), clock))
        await stack.enter_async_context(run_service(registry.definition("progress"), clock))
        headers = {**await ubnd_bd(settings, clock), "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
        # Due 31/10, already past: progress plans the overdue timer on TaskAssigned and it fires at once.
        created = await assignment.post("/v1/tasks", json=assign_body(deadline="Tháng 10/2022"), headers=headers)
        assert created.status_code == 201, created.text
        task_id = created.json()["task_id"]
        tasks = await stack.enter_async_context(TopicReader(settings, TASK_EVENTS, partitions=6))

        async def overdue() -> Any:
            for record in await tasks.read():
                value = json.loads(record.value)
                if value.get("task_id") == task_id and value.get("event_type") == "TaskOverdue":
                    return record
            return None

        record = await eventually(overdue, timeout=30, what="the overdue event")
    assert tracing.trace_id_of(header(record, "traceparent")) == trace_id


async def test_a_post_without_trace_context_starts_a_trace_of_its_own(run_service: Any, settings: Any) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with run_service(registry.definition("assignment"), clock) as assignment:
        headers = {**await ubnd_bd(settings, clock), "traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"}
        created = await assignment.post("/v1/tasks", json=assign_body(), headers=headers)
    assert created.status_code == 201, created.text
    started = tracing.parse(created.headers["traceparent"])
    assert started is not None and started[0] != "0" * 32
