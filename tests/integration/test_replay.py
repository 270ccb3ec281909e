"""`dondoc replay`: a projection rebuilt from the Kafka log in a shadow schema comes out identical to the
live one (DESIGN §5); a broken live projection is shown and exits 1; --apply waits for the service to
stop, then restores the live tables and moves the group to the replay's end offsets, carrying over the
token revocations the stopped service never read; nothing the replay writes leaves the shadow; sources of
truth and unknown names are refused.

Each test runs its own copy of the service (a unique name: its own schema and consumer group), which
reads the shared topics from the beginning, like the replay: what it holds is what the whole log gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import typer
import uvicorn
from aiokafka import AIOKafkaProducer
from rich.console import Console
from typer.testing import CliRunner

from events.clock import VN_TZ, ManualClock
from events.codec import to_record
from events.directory import AgencyChanged, TokenRevoked
from events.envelope import Actor, Envelope, deterministic_id, new_envelope
from events.tasks import ProgressReported
from events.topics import TASK_EVENTS, dead_letter_topic
from services.audit.bootstrap import DEFINITION as AUDIT
from services.cli import replay_cli
from services.reporting.bootstrap import DEFINITION as REPORTING
from services.runtime import auth
from services.runtime.kafka_config import producer_options
from services.runtime.replay import LogReader, ReplayPolicy, compare, group_offsets, policy_of, rebuild
from services.runtime.service import ServiceDefinition, create_app
from services.runtime.unit_of_work import UnitOfWork
from tests.conftest import as_service, eventually, free_port, unique
from tests.integration.kafka_tools import create_topic, unique_topic
from tests.integration.progress_alerts_kit import publish as publish_keyed
from tests.integration.report_scenario import Scenario, all_handled, publish, vn

pytestmark = pytest.mark.integration

TODAY = datetime(2023, 9, 1, 9, 0, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
async def scenario(infra: Any) -> Scenario:
    """The seeds' tasks on the shared topics, once for the module."""
    scenario = Scenario(unique("rp")).directory().danh_muc().cascade_of_13().timeline()
    await publish(infra.kafka, scenario.envelopes)
    return scenario


def own(definition: ServiceDefinition) -> ServiceDefinition:
    """A copy of the service under a name of its own: its own schema and consumer group."""
    return replace(definition, name=f"{definition.name}_rp_{uuid.uuid4().hex[:8]}")


@contextlib.asynccontextmanager
async def serving(definition: ServiceDefinition, settings: Any) -> AsyncIterator[str]:
    """The service on a real port (its /readyz answers), until the block ends; yields its URL."""
    port = free_port()
    await create_topic(settings, dead_letter_topic(definition.name))
    app = create_app(definition, as_service(definition.name, settings), ManualClock(TODAY))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> bool:
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    return (await http.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=60, what=f"{definition.name} to start")
        yield url
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


async def caught_up(definition: ServiceDefinition, settings: Any, envelopes: list[Envelope]) -> None:
    """The service has handled ``envelopes`` and committed every offset up to the end of its topics."""
    await eventually(
        lambda: all_handled(settings.database_url, envelopes, schema=definition.schema),
        timeout=90,
        what=f"{definition.name} to read the scenario",
    )

    async def at_end() -> bool:
        async with LogReader(settings, definition.topics, client_id="test-replay") as log:
            ends, starts = log.ends, log.starts
        committed = await group_offsets(settings, f"dondoc.{definition.name}")
        return all(committed.get((tp.topic, tp.partition), starts[tp]) >= end for tp, end in ends.items())

    await eventually(at_end, timeout=90, what=f"{definition.name}'s group to reach the end of its topics")


async def run(definition: ServiceDefinition, settings: Any, **options: Any) -> tuple[int, str]:
    """The command's work on this copy of the service: (exit code, everything it printed)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=250, force_terminal=False)
    policy = policy_of(definition)  # own() keeps the service's
    code = await replay_cli.run(definition, settings, policy, err=console, out=console, **options)
    return code, buffer.getvalue()


async def _indexes(settings: Any, schema: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema)
    finally:
        await conn.close()
    return {(r["indexname"], r["indexdef"].replace(f"{schema}.", "")) for r in rows}


async def test_a_replay_rebuilds_the_reporting_projection_identically(settings: Any, scenario: Scenario) -> None:
    defn = own(REPORTING)
    async with serving(defn, settings):
        await caught_up(defn, settings, scenario.envelopes)
        group_before = await group_offsets(settings, f"dondoc.{defn.name}")

        rebuilt = await rebuild(defn, settings, policy=policy_of(defn))
        comparison = await compare(rebuilt, settings)

        assert comparison.identical, comparison.tables
        assert {t.table for t in comparison.tables} >= {"tasks", "task_history", "journal", "live", "agencies"}
        assert "published_reports" not in {t.table for t in comparison.tables}  # its own output, kept
        tasks = next(t for t in comparison.tables if t.table == "tasks")
        assert tasks.rebuilt_rows == tasks.live_rows and tasks.rebuilt_rows >= 20
        live = next(t for t in comparison.tables if t.table == "live")
        assert live.rebuilt_rows > 0  # rolled to the live service's day, not left empty
        # The indexes the feed went without (built after the load) are all back, as the migrations made them.
        assert await _indexes(settings, rebuilt.shadow_schema) == await _indexes(settings, rebuilt.live_schema)
        # The live service's group was not touched by the replay's reading.
        assert await group_offsets(settings, f"dondoc.{defn.name}") == group_before

        code, printed = await run(defn, settings)
        assert code == 0, printed
        assert "Identical." in printed


async def test_a_broken_live_projection_shows_its_differences_and_exits_1(settings: Any, scenario: Scenario) -> None:
    defn = own(REPORTING)
    async with serving(defn, settings):
        await caught_up(defn, settings, scenario.envelopes)
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(f'DELETE FROM "{defn.schema}".tasks WHERE task_id = $1', scenario.task(2))
            await conn.execute(
                f"""UPDATE "{defn.schema}".tasks SET title = 'Tiêu đề bị sửa tay' WHERE task_id = $1""",
                scenario.task(3),
            )
        finally:
            await conn.close()

        code, printed = await run(defn, settings)

    assert code == 1, printed
    assert "The live projection differs." in printed
    rebuilt = await rebuild(defn, settings, policy=policy_of(defn))
    tables = {t.table: t for t in (await compare(rebuilt, settings)).tables}
    assert (tables["tasks"].missing, tables["tasks"].extra) == (2, 1)
    assert tables["tasks"].live_rows == tables["tasks"].rebuilt_rows - 1
    assert all(t.identical for name, t in tables.items() if name != "tasks")
    assert "Tiêu đề bị sửa tay" in printed  # the altered row is shown, its Vietnamese intact


async def test_apply_waits_for_the_service_to_stop_then_restores_the_tables_and_offsets(
    settings: Any, scenario: Scenario
) -> None:
    defn = own(REPORTING)
    schema = defn.schema
    async with serving(defn, settings) as url:
        await caught_up(defn, settings, scenario.envelopes)
        code, printed = await run(defn, settings, apply_it=True, service_url=url)
        assert code == 2, printed
        assert f"{url}/readyz answered 200" in printed
        assert f"consumer group dondoc.{defn.name} has 1 member" in printed

    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(f'DELETE FROM "{schema}".task_history WHERE task_id = $1', scenario.task(5))
        await conn.execute(f'UPDATE "{schema}".tasks SET percent = 99 WHERE task_id = $1', scenario.task(9))

        code, printed = await run(defn, settings, apply_it=True, service_url=url)
        assert code == 0, printed
        found = re.search(rf"{schema}_backup_\d{{8}}_\d{{6}}", printed)
        assert found, printed
        backup = found.group()
        assert await conn.fetchval(f'SELECT percent FROM "{schema}".tasks WHERE task_id = $1', scenario.task(9)) == 30
        assert await conn.fetchval(f'SELECT percent FROM "{backup}".tasks WHERE task_id = $1', scenario.task(9)) == 99
        assert (
            await conn.fetchval(f'SELECT count(*) FROM "{schema}".task_history WHERE task_id = $1', scenario.task(5))
            == 2
        )
        assert await conn.fetchval(f'SELECT count(*) FROM "{backup}".inbox') > 0
    finally:
        await conn.close()
    async with LogReader(settings, defn.topics, client_id="test-replay") as log:
        ends = {(tp.topic, tp.partition): o for tp, o in log.ends.items()}
    assert await group_offsets(settings, f"dondoc.{defn.name}") == ends

    code, printed = await run(defn, settings)
    assert code == 0, printed  # the live tables are the rebuilt ones now

    # Restarted, the service goes on after what the tables hold.
    more = Scenario(scenario.prefix)
    more.envelopes = list(scenario.envelopes)
    more.progress(9, 60, vn(2023, 8, 1))
    async with serving(defn, settings):
        await publish(settings, more.envelopes[-1:])
        await caught_up(defn, settings, more.envelopes)
        conn = await asyncpg.connect(settings.database_url)
        try:
            assert (
                await conn.fetchval(f'SELECT percent FROM "{schema}".tasks WHERE task_id = $1', scenario.task(9)) == 60
            )
        finally:
            await conn.close()


async def test_apply_carries_over_the_revocations_the_stopped_service_never_read(
    settings: Any, scenario: Scenario
) -> None:
    """Reporting stops; meanwhile a leaked token is revoked, an agency abolished and another made active
    again. The apply moves the group past those events: the live service has them from the replay, or it
    would never refuse that token."""
    defn = own(REPORTING)
    schema = defn.schema
    changes = Scenario(unique("rv"))
    reopened, abolished, lead = changes.id("phong-mo-lai"), changes.id("phong-giai-the"), scenario.id("bd-sgddt")

    def agency(agency_id: str, *, active: bool, version: int) -> Envelope:
        return changes.add(
            AgencyChanged(
                agency_id=agency_id,
                name=f"Phòng {agency_id}",
                level="don-vi",
                parent_id=None,
                active=active,
                version=version,
            ),
            vn(2023, 5, 1),
        )

    closed_before = agency(reopened, active=False, version=1)
    await publish_keyed(settings, closed_before, key=reopened)
    leaked, revoked = auth.issue(settings.token_secret, lead, TODAY)
    tokens = {name: auth.issue(settings.token_secret, name, TODAY)[0] for name in (reopened, abolished)}
    async with serving(defn, settings):
        await caught_up(defn, settings, [*scenario.envelopes, closed_before])

    # While it is down: the token revoked (on the directory topic, as the assignment service publishes it).
    revocation = changes.add(
        TokenRevoked(token_id=revoked.token_id, agency_id=lead, revoked_at=TODAY + timedelta(hours=1)), TODAY
    )
    await publish_keyed(settings, revocation, key=f"token:{revoked.token_id}")
    for envelope, agency_id in (
        (agency(reopened, active=True, version=2), reopened),
        (agency(abolished, active=False, version=1), abolished),
    ):
        await publish_keyed(settings, envelope, key=agency_id)

    conn = await asyncpg.connect(settings.database_url)
    try:
        revocations_of = f'SELECT token_id, agency_id FROM "{schema}".revoked_tokens WHERE token_id = $1'
        inactive = f'SELECT agency_id FROM "{schema}".inactive_agencies WHERE agency_id = ANY($1) ORDER BY 1'
        assert await conn.fetch(revocations_of, revoked.token_id) == []  # never read by the live service
        assert [r["agency_id"] for r in await conn.fetch(inactive, [reopened, abolished])] == [reopened]

        code, printed = await run(defn, settings, apply_it=True)
        assert code == 0, printed

        assert [tuple(r) for r in await conn.fetch(revocations_of, revoked.token_id)] == [(revoked.token_id, lead)]
        assert [r["agency_id"] for r in await conn.fetch(inactive, [reopened, abolished])] == [abolished]
    finally:
        await conn.close()

    # Restarted after the revocation's offset, the service refuses the token all the same.
    async with serving(defn, settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def summary(token: str) -> httpx.Response:
            params = {"agency_id": scenario.id("ubnd-bd")}
            return await http.get("/v1/reports/summary", params=params, headers={"Authorization": f"Bearer {token}"})

        refused = await summary(leaked)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]["message"], refused.text
        gone = await summary(tokens[abolished])
        assert gone.status_code == 401 and "no longer active" in gone.json()["detail"]["message"], gone.text
        assert (await summary(tokens[reopened])).status_code == 200


async def test_nothing_a_replay_writes_leaves_the_shadow(settings: Any, tmp_path: Path) -> None:
    """A handler that emits an event and one that fails, and a record that is no envelope: the emitted
    event stays in the shadow's outbox and the dead letters in its table; Kafka gets nothing."""
    name = f"replaytest_{uuid.uuid4().hex[:8]}"
    topic = await create_topic(settings, unique_topic("replay"), partitions=2)
    dead_letters = await create_topic(settings, dead_letter_topic(name))
    (tmp_path / "001_seen.sql").write_text("CREATE TABLE seen (event_id uuid PRIMARY KEY, percent int NOT NULL);")

    async def on_progress(event: Envelope, uow: UnitOfWork) -> None:
        assert isinstance(event.payload, ProgressReported)
        if event.payload.percent == 13:
            raise RuntimeError("thirteen is refused")
        await uow.conn.execute("INSERT INTO seen VALUES ($1, $2)", event.event_id, event.payload.percent)
        await uow.emit(ProgressReported(percent=100), actor=Actor(agency_id="test"), task_id=event.task_id)

    defn = ServiceDefinition(
        name=name, migrations=tmp_path, topics=(topic,), handlers={"ProgressReported": on_progress}
    )
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    try:
        for i, percent in enumerate((10, 13, 20)):
            envelope = new_envelope(
                ProgressReported(percent=percent),
                event_id=deterministic_id(name, i),
                occurred_at=TODAY,
                producer="test",
                actor=Actor(agency_id="test"),
                task_id=f"{name}-task-{i}",
            )
            await producer.send_and_wait(topic, to_record(envelope, None).value, key=f"{name}-task-{i}".encode())
        await producer.send_and_wait(topic, b"not an envelope", key=b"poison")
    finally:
        await producer.stop()

    async def end_offsets(topics: tuple[str, ...]) -> dict[Any, int]:
        async with LogReader(settings, topics, client_id="test-replay") as log:
            return dict(log.ends)

    outside = (TASK_EVENTS, dead_letters)
    before = await end_offsets(outside)
    rebuilt = await rebuild(defn, settings, policy=ReplayPolicy())

    assert (rebuilt.records, rebuilt.handled, rebuilt.dead_lettered) == (4, 2, 2)
    conn = await asyncpg.connect(settings.database_url)
    try:
        shadow = rebuilt.shadow_schema
        assert await conn.fetchval(f'SELECT count(*) FROM "{shadow}".seen') == 2
        assert await conn.fetchval(f'SELECT count(*) FROM "{shadow}".outbox WHERE published_at IS NULL') == 2
        assert await conn.fetchval(f'SELECT count(*) FROM "{shadow}".dead_letters') == 2
        # The live schema was never made: the replay wrote nowhere else.
        assert not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", name)
    finally:
        await conn.close()
    assert await end_offsets(outside) == before
    comparison = await compare(rebuilt, settings)
    assert not comparison.identical
    assert [t.problem for t in comparison.tables] == ["the live schema has no such table"]


async def test_audit_is_compared_per_event_and_its_chain_never_replaced(settings: Any, scenario: Scenario) -> None:
    defn = own(AUDIT)
    async with serving(defn, settings) as url:
        await caught_up(defn, settings, scenario.envelopes)
        code, printed = await run(defn, settings)
        assert code == 0, printed
        assert "not compared: seq, prev_hash, hash, version, recorded_at" in printed

        code, printed = await run(defn, settings, apply_it=True, service_url=url)
        assert code == 2
        assert "dondoc audit verify" in printed


def test_unknown_services_and_sources_of_truth_are_refused() -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    replay_cli.register(app)
    runner = CliRunner()

    def said(result: Any) -> str:
        return " ".join(result.output.split())  # the console wraps long lines

    unknown = runner.invoke(app, ["replay", "reportng"])
    assert unknown.exit_code == 2
    assert "unknown service 'reportng'" in said(unknown) and "replay accepts: reporting, audit" in said(unknown)

    for service, reason in (
        ("assignment", "it keeps only whether a task is still open"),
        ("progress", "timers"),
        ("alerts", "delivered to people"),
    ):
        refused = runner.invoke(app, ["replay", service])
        assert refused.exit_code == 2, refused.output
        assert "source of truth" in said(refused) and reason in said(refused)
        assert "database backup" in said(refused)
