"""The five services as real processes: the issue-2 path over HTTP, a deadline seconds away, and
kill -9 of a consuming service in the middle of a burst."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from events.clock import VN_TZ
from services.cli.main import GRACEFUL_HTTP_S
from services.cli.stack import STOP_BUDGET_S
from tests.conftest import eventually, unique
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

ASSIGNER = "ubnd-bd"
OFFICER = "p-bd-sgddt-officer-1"  # an officer of the lead agency in the seed directory


def assign_body(officer: str = OFFICER, *, deadline: str = "Quý IV năm 2030", key: str | None = None) -> dict[str, Any]:
    return {
        "title": "Triển khai thanh toán học phí trực tuyến",
        "source_document": {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"},
        "lead_agency_id": "bd-sgddt",
        "officer_in_charge_id": officer,
        "deadline": deadline,
        "idempotency_key": key or unique("k"),
    }


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=headers)
    # Polled by eventually(), which retries an AssertionError and names the last one when it gives up: a
    # refusal (e.g. 403 until the directory reaches alerts) shows its reason instead of looking like "not yet".
    assert response.status_code not in (401, 403), response.text
    return response.json() if response.status_code == 200 else None


async def test_each_service_sees_the_task_assigned_over_http(stack: Stack) -> None:
    officer = OFFICER
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(
            f"{stack['assignment'].url}/v1/tasks", json=assign_body(officer), headers=stack.headers_for(ASSIGNER)
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["task_id"]

        progress = await eventually(
            lambda: _get(client, f"{stack['progress'].url}/v1/tasks/{task_id}"), what="progress to know the task"
        )
        assert progress["status"] == "assigned" and progress["due"] == "2030-12-31"

        async def officer_alerted() -> list[dict[str, Any]] | None:
            # An inbox is read with a token of the person's agency (the officer's: the lead's).
            body = await _get(
                client, f"{stack['alerts'].url}/v1/alerts", stack.headers_for("bd-sgddt"), person_id=officer
            )
            return [a for a in body["alerts"] if a["task_id"] == task_id] if body else None

        alerts = await eventually(officer_alerted, what="the officer's alert")
        assert alerts[0]["kind"] == "assigned"

        done = await client.post(
            f"{stack['progress'].url}/v1/tasks/{task_id}/complete",
            json={"product": "Công văn số 1/SGDĐT ngày 01/12/2022"},
            headers=stack.headers_for("bd-sgddt"),
        )
        assert done.status_code == 202, done.text
        # Completion counts once the assigning agency confirms it (TaskCompleted).
        confirmed = await client.post(
            f"{stack['progress'].url}/v1/tasks/{task_id}/confirm", headers=stack.headers_for(ASSIGNER)
        )
        assert confirmed.status_code == 202, confirmed.text

        async def reported_done() -> dict[str, Any] | None:
            body = await _get(client, f"{stack['reporting'].url}/v1/reports/summary", agency_id="bd-sgddt")
            return body if body and body["figures"]["completed_on_time"] >= 1 else None

        await eventually(reported_done, what="the report to count the completion")

        async def history() -> list[str] | None:
            body = await _get(client, f"{stack['audit'].url}/v1/audit/tasks/{task_id}")
            types = [e["event"]["event_type"] for e in body["events"]] if body else []
            return types if "TaskCompleted" in types else None

        types = await eventually(history, what="the audit trail")
        assert types[0] == "TaskAssigned"


class TestADeadlineSecondsAway:
    @pytest.fixture
    def clock_offset_s(self) -> float:
        # The processes live five seconds before the end of 30/11/2022.
        target = datetime(2022, 11, 30, 23, 59, 55, tzinfo=VN_TZ)
        return (target - datetime.now(VN_TZ)).total_seconds()

    async def test_the_officer_is_told_once_the_deadline_passes(self, stack: Stack) -> None:
        officer = OFFICER
        async with httpx.AsyncClient(timeout=10) as client:
            created = await client.post(
                f"{stack['assignment'].url}/v1/tasks",
                json=assign_body(officer, deadline="Tháng 11/2022"),
                headers=stack.headers_for(ASSIGNER),
            )
            assert created.status_code == 201, created.text

            async def overdue() -> list[dict[str, Any]] | None:
                body = await _get(
                    client, f"{stack['alerts'].url}/v1/alerts", stack.headers_for("bd-sgddt"), person_id=officer
                )
                found = [a for a in body["alerts"] if a["kind"] == "overdue"] if body else []
                return found or None

            alerts = await eventually(overdue, timeout=30, what="the overdue alert")
            assert len(alerts) == 1
            assert "quá hạn từ ngày 01/12/2022" in alerts[0]["message_vi"]


async def test_kill_9_of_the_alerts_service_mid_burst_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    burst = 120
    officer, run = OFFICER, unique("burst")
    async with httpx.AsyncClient(timeout=10) as client:

        async def assign(i: int) -> str:
            response = await client.post(
                f"{stack['assignment'].url}/v1/tasks",
                json=assign_body(officer, key=f"{run}-{i}"),
                headers=stack.headers_for(ASSIGNER),
            )
            assert response.status_code == 201, response.text
            return str(response.json()["task_id"])

        first = [await assign(i) for i in range(burst // 2)]

        async def some_alerted() -> bool:
            rows = await stack.fetch(
                "alerts", "SELECT count(*) AS n FROM alerts WHERE recipient_person_id = $1", officer
            )
            return 0 < rows[0]["n"] < burst

        await eventually(some_alerted, what="the alerts service to be mid-burst")
        stack["alerts"].kill()
        second = [await assign(i) for i in range(burst // 2, burst)]
        stack["alerts"].start()
        await stack["alerts"].wait_ready()
        task_ids = set(first + second)
        assert len(task_ids) == burst

        async def all_alerted() -> list[Any] | None:
            rows = await stack.fetch(
                "alerts",
                "SELECT task_id, count(*) AS n FROM alerts WHERE recipient_person_id = $1 GROUP BY task_id",
                officer,
            )
            return rows if len(rows) == burst else None

        rows = await eventually(all_alerted, timeout=60, what="an alert for every task")
        assert {r["task_id"] for r in rows} == task_ids, "an event was lost"
        assert all(r["n"] == 1 for r in rows), "an event was applied twice"
        # Every alert (the officer's and, when the directory knew them in time, the head's) reached the
        # log exactly once as far as readers can tell: one AlertRaised per alert row, ids unique.
        raised = (
            await stack.fetch(
                "alerts", "SELECT count(*) AS n FROM alerts WHERE task_id = ANY($1::text[])", list(task_ids)
            )
        )[0]["n"]
        events = await eventually(
            lambda: _alert_events(stack, task_ids, raised), timeout=60, what="every AlertRaised in the audit log"
        )
        assert len({e["event_id"] for e in events}) == raised


async def _alert_events(stack: Stack, task_ids: set[str], expected: int) -> list[Any] | None:
    rows = await stack.fetch(
        "audit",
        "SELECT event_id, task_id FROM events WHERE event_type = 'AlertRaised' AND task_id = ANY($1::text[])",
        list(task_ids),
    )
    return rows if len(rows) >= expected else None


async def test_a_service_stops_cleanly_on_sigterm(stack: Stack) -> None:
    progress = stack["progress"]
    progress.stop()
    assert progress.proc is not None
    # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit here;
    # the lifespan's last line proves the consumer, relay, producer and pool were closed in order.
    assert progress.proc.returncode in (0, -15), progress.log_tail()
    assert '"event": "service stopped"' in progress.log_tail(5)


async def test_an_open_alert_stream_does_not_hold_up_a_clean_stop(stack: Stack) -> None:
    """SSE streams never end by themselves: the stop cuts them after a short grace and still runs the
    lifespan's own stop (consumer, relay drain) well within what `dondoc up` waits before killing."""
    alerts = stack["alerts"]
    async with httpx.AsyncClient(timeout=None) as client:
        # The officer's agency is known once the directory reached alerts.
        await eventually(
            lambda: _get(client, f"{alerts.url}/v1/alerts", stack.headers_for("bd-sgddt"), person_id=OFFICER),
            what="alerts to know the officer",
        )
        async with client.stream(
            "GET",
            f"{alerts.url}/v1/alerts/stream",
            params={"person_id": OFFICER},
            headers=stack.headers_for("bd-sgddt"),
        ) as stream:
            assert stream.status_code == 200
            started = time.monotonic()
            assert alerts.proc is not None
            alerts.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(alerts.proc.wait, STOP_BUDGET_S)
            took = time.monotonic() - started
    assert took < GRACEFUL_HTTP_S + 15, f"stopped after {took:.1f} s"
    assert alerts.proc.returncode in (0, -15), alerts.log_tail()
    assert '"event": "service stopped"' in alerts.log_tail(5)


class TestKill9OfProgressWhileDeadlinesFire:
    @pytest.fixture
    def clock_offset_s(self) -> float:
        # The processes live twenty seconds before the end of 30/11/2022: every task below falls due together.
        target = datetime(2022, 11, 30, 23, 59, 40, tzinfo=VN_TZ)
        return (target - datetime.now(VN_TZ)).total_seconds()

    async def test_no_overdue_event_is_lost_or_doubled(self, stack: Stack) -> None:
        burst, run = 60, unique("due")
        async with httpx.AsyncClient(timeout=10) as client:
            task_ids = set()
            for i in range(burst):
                response = await client.post(
                    f"{stack['assignment'].url}/v1/tasks",
                    json=assign_body(deadline="Tháng 11/2022", key=f"{run}-{i}"),
                    headers=stack.headers_for(ASSIGNER),
                )
                assert response.status_code == 201, response.text
                task_ids.add(str(response.json()["task_id"]))

        async def firing() -> bool:
            rows = await stack.fetch(
                "progress",
                "SELECT count(*) AS n FROM timers WHERE status = 'fired' AND subject_id = ANY($1::text[])",
                list(task_ids),
            )
            return rows[0]["n"] > 0

        await eventually(firing, timeout=60, what="the deadline timers to start firing")
        stack["progress"].kill()  # in the middle of firing, or just after: either way nothing may be lost
        stack["progress"].start()
        await stack["progress"].wait_ready()

        async def every_task_overdue() -> list[Any] | None:
            rows = await stack.fetch(
                "alerts",
                "SELECT task_id, count(*) AS n FROM alerts WHERE kind = 'overdue' "
                "AND recipient_person_id = $1 AND task_id = ANY($2::text[]) GROUP BY task_id",
                OFFICER,
                list(task_ids),
            )
            return rows if len(rows) == burst else None

        rows = await eventually(every_task_overdue, timeout=90, what="an overdue alert for every task")
        assert all(r["n"] == 1 for r in rows), "an overdue event was applied twice"
        fired = await stack.fetch(
            "progress",
            "SELECT subject_id, count(*) AS n FROM timers WHERE kind = "
            "'task-overdue' AND status = 'fired' AND subject_id = ANY($1::text[]) "
            "GROUP BY subject_id",
            list(task_ids),
        )
        assert len(fired) == burst and all(r["n"] == 1 for r in fired)
