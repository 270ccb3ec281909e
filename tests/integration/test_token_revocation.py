"""Revoking an agency token (`dondoc token revoke`) reaches every service that checks tokens by itself, on
the real broker and database: the assignment service publishes TokenRevoked with the revocation, and from
then on progress refuses the token over HTTP and its intake key on dondoc.intake, alerts refuses it (even
when started after the revocation: it reads it from the compacted directory topic), and the audit trail
still records the event."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import typer
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from events.clock import VN_TZ, ManualClock
from events.intake import signed_headers, signing_key
from events.topics import DIRECTORY, INTAKE, INTAKE_REJECTED
from services import registry
from services.assignment.tokens import IssuedToken
from services.cli import assignment_cli
from services.runtime.kafka_config import producer_options
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import Events, assign, fetch, topic_events
from tests.integration.test_assignment_support import kafka_records, outbox_events, prepared

pytestmark = pytest.mark.integration

LEAD = "bd-sgddt"
OFFICER = "p-bd-sgddt-officer-1"  # of the seed directory that `prepared` loads


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def rejected(infra: Any) -> AsyncIterator[Events]:
    async with topic_events(infra.kafka, INTAKE_REJECTED, 3) as found:
        yield found


async def revoke(token_id: str) -> None:
    """As an operator does: `dondoc token revoke TOKEN_ID` (the CLI runs its own event loop: a thread)."""
    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    assignment_cli.register(app, bench)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["token", "revoke", token_id])
    assert result.exit_code == 0, result.output


def bearer(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.token}"}


async def send_signed(
    settings: Any, token: IssuedToken, command_type: str, payload: dict[str, Any], command_id: str | None = None
) -> str:
    """An agency system's intake command, signed with the token's intake key (key id = token id)."""
    command_id = command_id or unique("cmd")
    body = json.dumps({"command_type": command_type, "command_id": command_id, "payload": payload}).encode()
    key = signing_key(settings.token_secret, token.agency_id, token.token_id)
    headers = signed_headers(key, token.agency_id, token.token_id, body, time.time())
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(INTAKE, body, key=token.agency_id.encode(), headers=headers)
    finally:
        await producer.stop()
    return command_id


async def send_unsigned(settings: Any, agency_id: str) -> dict[str, Any]:
    """A record with no signature, keyed like the agency's commands; returns its position."""
    producer = AIOKafkaProducer(**producer_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(INTAKE, b'{"command_type": "ReportProgress"}', key=agency_id.encode())
    finally:
        await producer.stop()
    return {"topic": INTAKE, "partition": sent.partition, "offset": sent.offset}


def refused_as_revoked(response: httpx.Response, agency_id: str) -> bool:
    if response.status_code != 401:
        return False
    detail = response.json()["detail"]
    assert detail["code"] == "unauthorized" and "revoked" in detail["message"], detail
    assert f"dondoc token issue {agency_id}" in detail["message"] and "thu hồi" in detail["message_vi"], detail
    return True


async def test_a_revoked_token_is_refused_by_progress_over_http_and_intake_and_audit_records_it(
    infra: Any, settings: Any, run_service: Any, clock: ManualClock, rejected: Events
) -> None:
    async with (
        run_service(registry.definition("assignment"), clock),
        run_service(registry.definition("audit"), clock),
        run_service(registry.definition("progress"), clock) as progress,
    ):
        leaked, spare = (await prepared(settings, LEAD))[LEAD], (await prepared(settings, LEAD))[LEAD]
        task_id, _ = await assign(infra.kafka, clock.now(), officer=OFFICER, lead=LEAD)

        async def known() -> bool:
            return (await progress.get(f"/v1/tasks/{task_id}")).status_code == 200

        await eventually(known, what="the progress service to know the task")
        report = {"percent": 30, "idempotency_key": unique("k")}  # the same request, again and again

        async def report_progress() -> httpx.Response:
            return await progress.post(f"/v1/tasks/{task_id}/progress", json=report, headers=bearer(leaked))

        assert (await report_progress()).status_code == 202

        await revoke(leaked.token_id)
        published = await outbox_events(settings.database_url, f"token:{leaked.token_id}")
        assert [(e["event_type"], e["payload"]["agency_id"]) for e in published] == [("TokenRevoked", LEAD)]

        async def refused() -> bool:
            return refused_as_revoked(await report_progress(), LEAD)

        await eventually(refused, what="progress to refuse the revoked token")
        # Only that token: another of the same agency still works.
        other = await progress.post(f"/v1/tasks/{task_id}/progress", json={"percent": 40}, headers=bearer(spare))
        assert other.status_code == 202, other.text

        # An agency system signing with the revoked token's intake key is refused, and nothing changes.
        command_id = await send_signed(settings, leaked, "ReportProgress", {"task_id": task_id, "percent": 90})

        async def answers() -> list[dict[str, Any]]:
            envelopes = [json.loads(r.value) for r in await rejected.records()]
            found = [e for e in envelopes if e["payload"].get("command_id") == command_id]
            return found if any(e["producer"] == "progress" for e in found) else []

        answered = await eventually(answers, what="the progress service's rejection")
        # Exactly one answer: the assignment service leaves a signed progress command to progress, even
        # with a revoked key. An unsigned record after it, on the same partition (key: the agency), is
        # answered by assignment only once it has handled the command before it.
        marker = await send_unsigned(settings, leaked.agency_id)

        async def marker_answered() -> bool:
            envelopes = [json.loads(r.value) for r in await rejected.records()]
            return any(e["payload"].get("record") == marker for e in envelopes)

        await eventually(marker_answered, what="the assignment service to answer the record after it")
        answered = await answers()
        assert [(e["producer"], e["payload"]["code"]) for e in answered] == [("progress", "bad-signature")]
        assert "thu hồi" in answered[0]["payload"]["message_vi"]
        assert (await progress.get(f"/v1/tasks/{task_id}")).json()["percent"] == 40
        ledger_sql = "SELECT outcome, code FROM intake_commands WHERE command_id = $1"
        assert await fetch(settings, "progress", ledger_sql, command_id) == []  # refused before the ledger

        # So the agency can send the same command again, under its id, signed with a live token's key.
        await send_signed(settings, spare, "ReportProgress", {"task_id": task_id, "percent": 90}, command_id)

        async def accepted() -> bool:
            return (await progress.get(f"/v1/tasks/{task_id}")).json()["percent"] == 90

        await eventually(accepted, what="the command signed with a live key to be accepted under the same id")
        assert await fetch(settings, "progress", ledger_sql, command_id) == [{"outcome": "accepted", "code": None}]
        assert [(e["producer"], e["payload"]["code"]) for e in await answers()] == [("progress", "bad-signature")]

        # The audit trail's "*" handler still sees the event, beside the revocation the runtime records.
        async def audited() -> list[dict[str, Any]]:
            sql = "SELECT event_type FROM events WHERE event_id = $1"
            return await fetch(settings, "audit", sql, published[0]["event_id"])

        assert await eventually(audited, what="the audit trail to record TokenRevoked") == [
            {"event_type": "TokenRevoked"}
        ]
        sql = "SELECT agency_id FROM revoked_tokens WHERE token_id = $1"
        assert await fetch(settings, "audit", sql, leaked.token_id) == [{"agency_id": LEAD}]


async def test_a_service_started_after_the_revocation_refuses_the_token(
    settings: Any, run_service: Any, clock: ManualClock
) -> None:
    async with run_service(registry.definition("assignment"), clock):
        leaked, spare = (await prepared(settings, LEAD))[LEAD], (await prepared(settings, LEAD))[LEAD]
        await revoke(leaked.token_id)
        await kafka_records(  # published on the compacted directory topic before alerts ever runs
            settings,
            DIRECTORY,
            lambda kept: len(kept) == 1,
            keep=lambda r: r.key == f"token:{leaked.token_id}".encode(),
        )
    async with (
        run_service(registry.definition("alerts"), clock) as alerts,
        run_service(registry.definition("reporting"), clock) as reporting,
    ):

        async def read_inbox(token: IssuedToken) -> httpx.Response:
            return await alerts.get("/v1/alerts", params={"person_id": OFFICER}, headers=bearer(token))

        async def refused() -> bool:
            return refused_as_revoked(await read_inbox(leaked), LEAD)

        await eventually(refused, what="alerts to read the revocation from the directory topic")
        assert (await read_inbox(spare)).status_code != 401

        # Reporting adds the secret tasks a token's agency is involved in: not for a revoked token.
        async def summary(token: IssuedToken) -> httpx.Response:
            return await reporting.get("/v1/reports/summary", params={"agency_id": LEAD}, headers=bearer(token))

        async def reporting_refuses() -> bool:
            return refused_as_revoked(await summary(leaked), LEAD)

        await eventually(reporting_refuses, what="reporting to read the revocation from the directory topic")
        assert (await summary(spare)).status_code == 200


async def test_the_token_of_an_abolished_agency_is_refused_by_the_other_services_too(
    settings: Any, run_service: Any, clock: ManualClock
) -> None:
    async with (
        run_service(registry.definition("assignment"), clock) as assignment,
        run_service(registry.definition("progress"), clock) as progress,
    ):
        admin = (await prepared(settings, "ubnd-bd"))["ubnd-bd"]
        old, successor = unique("phong-cu"), unique("phong-moi")

        def fields_of(agency: str) -> dict[str, Any]:
            return {"name": f"Phòng thử nghiệm {agency}", "level": "don-vi", "parent_id": "bd-stc"}

        for agency in (successor, old):
            created = await assignment.put(
                f"/v1/directory/agencies/{agency}", json=fields_of(agency), headers=bearer(admin)
            )
            assert created.status_code in (200, 201), created.text
        fields = fields_of(old)
        token = (await prepared(settings, old))[old]

        async def task_list() -> httpx.Response:  # a write checks the token before looking for the task
            return await progress.post("/v1/tasks/khong-co/progress", json={"percent": 10}, headers=bearer(token))

        assert (await task_list()).status_code != 401
        abolished = await assignment.put(
            f"/v1/directory/agencies/{old}",
            json={**fields, "active": False, "successor_id": successor},
            headers=bearer(admin),
        )
        assert abolished.status_code == 200, abolished.text

        async def refused() -> bool:
            response = await task_list()
            if response.status_code != 401:
                return False
            detail = response.json()["detail"]
            assert "no longer active" in detail["message"] and "ngừng hoạt động" in detail["message_vi"], detail
            return True

        await eventually(refused, what="progress to read that the agency was abolished")
