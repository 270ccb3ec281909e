"""Journal writers side by side (services/reporting/adapters.py): two transactions changing different
tasks must never deadlock on the journal, whatever days and scopes their changes touch (replicas of
the reporting service, or a consumer applying several partitions' batches at once, do exactly that),
nor with a reorganisation of the agency tree."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events.clock import VN_TZ
from events.deadlines import parse_deadline_or_date
from events.tasks import SourceDocument, TaskAssigned
from services.reporting import adapters
from services.reporting.domain import STATES
from services.runtime import db

pytestmark = pytest.mark.integration

MIGRATIONS = Path(adapters.__file__).parent / "migrations"
DOC = SourceDocument(number="CONC/NQ-CP", issued_on=date(2024, 1, 2), issuer="Chính phủ")
START = datetime(2024, 1, 8, 9, 0, tzinfo=VN_TZ)


@pytest.fixture
async def pool(infra: Any) -> AsyncIterator[asyncpg.Pool]:
    schema = f"t_journal_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(infra.database_url, schema, min_size=1, max_size=10)
    await db.migrate(pool, schema, {"runtime": db.RUNTIME_MIGRATIONS, "reporting": MIGRATIONS})
    try:
        yield pool
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


def assigned(due: date) -> TaskAssigned:
    return TaskAssigned(
        code="CONC#1",
        title="Nhiệm vụ kiểm tra ghi đồng thời",
        source_document=DOC,
        assigning_agency_id="ubnd-conc",
        lead_agency_id="so-conc",
        deadline=parse_deadline_or_date(due.isoformat(), DOC.issued_on),
    )


async def test_writers_of_different_tasks_never_deadlock_on_the_journal(pool: asyncpg.Pool) -> None:
    rng = random.Random(7)
    tasks = [f"conc-{i}" for i in range(40)]
    async with pool.acquire() as conn, conn.transaction():
        batch = await adapters.TaskBatch.open(conn, tasks)
        for i, task_id in enumerate(tasks):
            batch.insert_task(task_id, assigned(date(2024, 2, 1) + timedelta(days=i % 9)), START)
        await batch.flush()
    deadlocks = 0

    async def writer(n: int) -> None:
        nonlocal deadlocks
        for step in range(12):
            # A batch of a few tasks, as a consumer lane or a replica applies them.
            chosen = rng.sample(tasks, rng.randint(1, 4))
            at = START + timedelta(days=1 + step, minutes=n)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    batch = await adapters.TaskBatch.open(conn, chosen)
                    for task_id in chosen:
                        state = batch.load(task_id)
                        assert state is not None
                        # An extension and progress: two moves of the history in one batch.
                        new_due = date(2024, 2, 1) + timedelta(days=rng.randrange(0, 60))
                        state = batch.move(state, at, due=new_due, due_changed=True)
                        batch.move(state, at + timedelta(seconds=1), bucket="started")
                    await batch.flush()
            except asyncpg.DeadlockDetectedError:
                deadlocks += 1

    async def reorganiser() -> None:
        # What a reorganisation does (directory_store.py): the moved tasks out, then back in, all at once.
        nonlocal deadlocks
        for _ in range(4):
            moved = rng.sample(tasks, 25)
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(adapters.LIVE_LOCK_ALONE)
                    await adapters.journal(conn, moved, -1)
                    await adapters.journal(conn, moved, +1)
            except asyncpg.DeadlockDetectedError:
                deadlocks += 1

    await asyncio.gather(*(writer(n) for n in range(6)), reorganiser(), reorganiser())
    assert deadlocks == 0
    # And the journal is still the history's.
    async with pool.acquire() as conn:
        nonzero = " OR ".join(f"{c} <> 0" for c in STATES)
        kept = sorted(tuple(r) for r in await conn.fetch(f"SELECT * FROM journal WHERE {nonzero}"))
        async with conn.transaction():
            await conn.execute("TRUNCATE journal")
            await conn.execute("SELECT journal_apply(NULL, 1)")
            rebuilt = sorted(tuple(r) for r in await conn.fetch(f"SELECT * FROM journal WHERE {nonzero}"))
    assert kept == rebuilt
