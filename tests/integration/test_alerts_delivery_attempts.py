"""A delivery worker dying mid-send (services/alerts/deliveries.py): the row is sent again after its
lease, and the attempt cut short is counted, so ``attempts`` says how often the receiver may have
seen the alert."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events.clock import SystemClock
from services.alerts import deliveries
from services.alerts.config import AlertsConfig
from services.alerts.deliveries import DeliveryWorker
from services.runtime import db
from services.runtime.unit_of_work import UnitOfWork
from tests.conftest import eventually

pytestmark = pytest.mark.integration

ALERTS_MIGRATIONS = Path(deliveries.__file__).parent / "migrations"


@pytest.fixture
async def pool(infra: Any) -> AsyncIterator[asyncpg.Pool]:
    schema = f"t_deliveries_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(infra.database_url, schema, min_size=1, max_size=4)
    await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS, "alerts": ALERTS_MIGRATIONS})
    try:
        yield pool
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


def worker(pool: asyncpg.Pool, send: Any) -> DeliveryWorker:
    schema = "test"
    return DeliveryWorker(
        pool,
        "webhook",
        send,
        AlertsConfig(delivery_lease_s=60),
        lambda conn: UnitOfWork(conn, "alerts", schema, SystemClock()),
    )


async def test_a_send_cut_short_by_a_crash_is_sent_again_and_counted(pool: asyncpg.Pool) -> None:
    alert_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await deliveries.enqueue(
            conn,
            channel="webhook",
            person_id="p-officer",
            target="http://agency.example/alerts",
            body={"event": "alert"},
            alert_id=alert_id,
            task_id="task-1",
        )

    started, sends = asyncio.Event(), []

    async def hangs(row: deliveries.Delivery) -> None:
        sends.append(row.delivery_id)
        started.set()
        await asyncio.Event().wait()

    crashing = asyncio.create_task(worker(pool, hangs).work_once())
    await asyncio.wait_for(started.wait(), 10)
    crashing.cancel()  # the worker dies mid-send: nothing of its outcome is written
    await asyncio.gather(crashing, return_exceptions=True)
    await pool.execute("UPDATE deliveries SET lease_expires_at = now() - interval '1 second'")  # its lease ends

    async def succeeds(row: deliveries.Delivery) -> None:
        sends.append(row.delivery_id)

    assert await worker(pool, succeeds).work_once() == 1
    row = await pool.fetchrow("SELECT status, attempts FROM deliveries")
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert len(sends) == 2 and sends[0] == sends[1]  # the same delivery id both times: receivers de-duplicate

    async def delivered_events() -> list[dict[str, Any]]:
        values = await pool.fetch("SELECT value FROM outbox")
        return [json.loads(bytes(v["value"]))["payload"] for v in values]

    [event] = await eventually(delivered_events, what="AlertDelivered in the outbox")
    assert (event["alert_id"], event["attempts"]) == (str(alert_id), 2)


async def test_a_send_that_kills_its_worker_every_time_ends_failed_not_claimed_forever(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await deliveries.enqueue(
            conn,
            channel="webhook",
            person_id="p-officer",
            target="http://agency.example/alerts",
            body={"event": "alert"},
            alert_id=uuid.uuid4(),
            task_id="task-2",
        )
    config = AlertsConfig(delivery_lease_s=60, delivery_max_attempts=2)
    started, sends = asyncio.Event(), 0

    async def dies(_row: deliveries.Delivery) -> None:
        nonlocal sends
        sends += 1
        started.set()
        await asyncio.Event().wait()

    def worker_of() -> DeliveryWorker:
        return DeliveryWorker(
            pool, "webhook", dies, config, lambda conn: UnitOfWork(conn, "alerts", "t", SystemClock())
        )

    for _ in range(config.delivery_max_attempts):
        started.clear()
        crashing = asyncio.create_task(worker_of().work_once())
        await asyncio.wait_for(started.wait(), 10)
        crashing.cancel()  # the send takes its worker down with it
        await asyncio.gather(crashing, return_exceptions=True)
        await pool.execute("UPDATE deliveries SET lease_expires_at = now() - interval '1 second'")

    assert await worker_of().work_once() == 0  # not sent a third time…
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM deliveries")
    assert (row["status"], row["attempts"]) == ("failed", 2)  # …but failed, listed for an operator
    assert "stopped during each of its 2 attempts" in row["last_error"]
    assert sends == 2
