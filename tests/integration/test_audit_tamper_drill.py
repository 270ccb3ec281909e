"""The audit log resists an insider with database access: whatever a superuser does to its rows, `audit
verify` — holding the table to the chain key, the signed checkpoints and the Kafka log — names the row and
what was done (the tamper drill of issue 12)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from events.clock import VN_TZ, ManualClock
from services import registry
from services.audit import evidence
from services.audit.bootstrap import DEFINITION
from services.audit.domain import chain_key
from services.runtime.settings import get_settings
from tests.conftest import eventually
from tests.integration.test_walking_skeleton import assign_body, ubnd_bd

pytestmark = pytest.mark.integration


def _superuser_url() -> str:
    """The insider: PostgreSQL's superuser of the session's local server, who may do anything to any row."""
    from deploy import stack

    return stack.local_postgres().database_url("dondoc")


async def _verify(settings: Any, database: str | asyncpg.Connection) -> evidence.Report:
    key = chain_key(settings.audit_key)
    return await evidence.verify(key, database, settings, tuple(DEFINITION.topics))


@pytest.fixture
async def recorded(run_service: Any, settings: Any) -> tuple[int, int]:
    """Two tasks assigned and recorded by the audit service, covered by a signed checkpoint; the services
    stopped, so nothing appends while the drill tampers. The seqs of the two tasks' TaskAssigned rows."""
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    async with (
        run_service(registry.definition("assignment"), clock) as assignment,
        run_service(registry.definition("audit"), clock) as audit,
    ):
        token = await ubnd_bd(settings, clock)
        ids = []
        for _ in range(2):
            created = await assignment.post("/v1/tasks", json=assign_body(), headers=token)
            assert created.status_code == 201, created.text
            ids.append(created.json()["task_id"])

        async def seqs() -> list[int]:
            found = []
            for task_id in ids:
                history = await audit.get(f"/v1/audit/tasks/{task_id}")
                if history.status_code != 200:
                    return []
                found.append(
                    next(e["seq"] for e in history.json()["events"] if e["event"]["event_type"] == "TaskAssigned")
                )
            return found

        first, second = await eventually(seqs, what="the audit service to record both tasks")

        async def checkpointed() -> bool:
            report = await _verify(settings, settings.database_url_of("audit"))
            assert report.finding is None, report.finding
            return report.checkpointed >= second and report.logged >= second

        await eventually(checkpointed, timeout=30, interval=0.5, what="a signed checkpoint covering both tasks")
    return first, second


@pytest.fixture
async def insider() -> AsyncIterator[asyncpg.Connection]:
    """A superuser session with the audit schema's triggers off (as a superuser may), in a transaction
    rolled back at the end: other tests share this audit log."""
    conn = await asyncpg.connect(_superuser_url(), server_settings={"search_path": "audit"})
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SET LOCAL session_replication_role = replica")
        yield conn
        await tx.rollback()
    finally:
        await conn.close()


async def _found(settings: Any, conn: asyncpg.Connection) -> tuple[str, int | None]:
    report = await _verify(settings, conn)
    assert report.finding is not None, "the tampering went unnoticed"
    return report.finding.kind, report.finding.seq


async def test_an_edited_row_is_named_modified(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    first, _ = recorded
    await insider.execute("""UPDATE events SET value = '{"forged":true}' WHERE seq = $1""", first)
    assert await _found(settings, insider) == ("modified", first)


async def test_a_moved_log_position_is_named_modified(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    first, _ = recorded
    await insider.execute('UPDATE events SET "offset" = "offset" + 1000 WHERE seq = $1', first)
    assert await _found(settings, insider) == ("modified", first)


async def test_a_deleted_row_is_named_deleted(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    first, _ = recorded
    await insider.execute("DELETE FROM events WHERE seq = $1", first)
    assert await _found(settings, insider) == ("deleted", first)


async def test_an_inserted_row_is_named_inserted(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    first, _ = recorded
    # A forged event slipped in before the first task's row, the rows after it renumbered to make room.
    await insider.execute("UPDATE events SET seq = -seq WHERE seq >= $1", first)
    await insider.execute("UPDATE events SET seq = -seq + 1 WHERE seq < 0")
    await insider.execute(
        """INSERT INTO events (seq, event_id, event_type, task_id, correlation_id, occurred_at, topic, partition,
               "offset", value, prev_hash, hash, version)
           SELECT $1::bigint, gen_random_uuid(), event_type, task_id, gen_random_uuid(), occurred_at, topic, partition,
               "offset", '{"forged":true}', prev_hash, sha256('forged'), 2 FROM events WHERE seq = $1::bigint + 1""",
        first,
    )
    await insider.execute("UPDATE chain_head SET seq = seq + 1")
    assert await _found(settings, insider) == ("inserted", first)


async def test_swapped_rows_are_named_reordered(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    first, _ = recorded
    await insider.execute("UPDATE events SET seq = -1 WHERE seq = $1", first)
    await insider.execute("UPDATE events SET seq = $1 WHERE seq = $1 + 1", first)
    await insider.execute("UPDATE events SET seq = $1 + 1 WHERE seq = -1", first)
    assert await _found(settings, insider) == ("reordered", first)


async def test_a_truncated_table_is_named_truncated(recorded: tuple[int, int], insider: Any, settings: Any) -> None:
    await insider.execute("TRUNCATE events")
    await insider.execute("UPDATE chain_head SET seq = 0, hash = $1", bytes(32))  # and the head made to match
    assert await _found(settings, insider) == ("truncated", 1)


async def test_a_cut_tail_with_a_matching_head_is_named_truncated(
    recorded: tuple[int, int], insider: Any, settings: Any
) -> None:
    first, _ = recorded
    await insider.execute("DELETE FROM events WHERE seq >= $1", first)
    await insider.execute(
        "UPDATE chain_head SET seq = $1 - 1, hash = (SELECT hash FROM events WHERE seq = $1 - 1)", first
    )
    assert await _found(settings, insider) == ("truncated", first)


async def test_a_forged_chain_head_is_found_and_the_cli_exits_1(recorded: tuple[int, int], settings: Any) -> None:
    from services.cli.main import app

    env = {
        "DONDOC_AUDIT_KEY": settings.audit_key,
        "DONDOC_TOKEN_SECRET": settings.token_secret,
        "DONDOC_DATABASE_URL": settings.database_url,
        "DONDOC_AUDIT_DATABASE_URL": settings.audit_database_url,
        "DONDOC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }

    async def audit_verify(**changed: str) -> Any:
        get_settings.cache_clear()
        try:  # in a thread: the command runs its own event loop
            return await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify"], env={**env, **changed})
        finally:
            get_settings.cache_clear()

    intact = await audit_verify()
    assert intact.exit_code == 0, intact.output
    conn = await asyncpg.connect(_superuser_url(), server_settings={"search_path": "audit"})
    try:
        head = await conn.fetchrow("SELECT seq, hash FROM chain_head")
        await conn.execute("UPDATE chain_head SET hash = sha256('forged')")
        try:
            forged = await audit_verify()
        finally:
            await conn.execute("UPDATE chain_head SET seq = $1, hash = $2", head["seq"], head["hash"])
    finally:
        await conn.close()
    assert forged.exit_code == 1, forged.output
    assert "forged-head" in forged.output and "làm giả" in forged.output
    without_key = await audit_verify(DONDOC_AUDIT_KEY="")
    assert without_key.exit_code == 2 and "DONDOC_AUDIT_KEY" in without_key.output


async def test_the_database_refuses_changes_to_audit_rows_unless_its_triggers_are_bypassed(
    recorded: tuple[int, int], settings: Any
) -> None:
    conn = await asyncpg.connect(settings.database_url_of("audit"), server_settings={"search_path": "audit"})
    try:
        for statement in ("UPDATE events SET value = 'x'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()
