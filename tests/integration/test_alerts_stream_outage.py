"""The live stream through a database outage (services/alerts/stream.py), on a PostgreSQL of its own that the
test stops and starts again: an open stream ends whole with one ``unavailable`` event, a reconnect is
answered 503 with Retry-After and the bilingual body until the database is back, and then
``Last-Event-ID`` resumes with no entry missed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.postgres import LocalPostgres
from events.clock import VN_TZ, ManualClock
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from tests.conftest import eventually, free_port, running, unique
from tests.integration.progress_alerts_kit import SseStream, assign, bearer, fetch, seed_directory, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL for this test alone: stopping the session's would take every other test's with it."""
    pg = LocalPostgres(tmp_path / "postgres", port=free_port())
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


async def _entries(settings: Any, person: str) -> list[int]:
    """Seqs of the person's stream entries, as the database holds them."""
    rows = await fetch(settings, "alerts", "SELECT seq FROM stream WHERE person_id = $1 ORDER BY seq", person)
    return [r["seq"] for r in rows]


async def test_a_stream_ends_whole_in_a_database_outage_reconnects_get_503_and_resume_without_a_gap(
    infra: Any, settings: Any, own_postgres: LocalPostgres
) -> None:
    clock = ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))
    ours = settings.model_copy(update={"database_url": own_postgres.url})
    department, officer = unique("so"), unique("officer")
    await seed_directory(
        infra.kafka, clock.now(), agencies=[{"agency_id": department, "name": "Sở Giáo dục và Đào tạo"}], people=[]
    )
    config = AlertsConfig(stream_keepalive_s=0.2)
    async with running(definition(config), ours, clock) as http, serve(http.app) as url:  # type: ignore[attr-defined]
        stream_url = f"{url}/v1/alerts/stream?person_id={officer}"
        first, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=department)
        await eventually(lambda: _entries(ours, officer), what="the first alert's entry")

        async with SseStream(stream_url, headers=bearer(ours, department)) as live:
            await eventually(lambda: _on(live, first), what="the first alert on the stream")
            await asyncio.to_thread(own_postgres.stop)
            assert live._task is not None
            # Ends by itself, whole: a stream cut mid-message would raise here (an incomplete chunked body).
            await asyncio.wait_for(live._task, 20)
        last = live.events[-1]
        assert last.event == "unavailable"
        assert last.data["status"] == 503 and last.data["code"] == "temporarily-unavailable"
        assert "same idempotency key" in last.data["message"] and "tạm thời không kết nối" in last.data["message_vi"]
        seen = max(e.id for e in live.events if e.id is not None)

        # The next alert is published while the database is away: it reaches the stream once it is back.
        second, _ = await assign(infra.kafka, clock.now(), officer=officer, lead=department)
        async with httpx.AsyncClient(timeout=10) as client:
            refused = await client.get(stream_url, headers=bearer(ours, department))
        assert refused.status_code == 503 and refused.headers["retry-after"].isdigit()
        assert refused.headers["content-type"] == "application/json"
        detail = refused.json()["detail"]
        assert detail["code"] == "temporarily-unavailable" and detail["message"] and detail["message_vi"]

        await asyncio.to_thread(own_postgres.start)
        held = await eventually(
            lambda: _more_than(ours, officer, seen), timeout=60, what="the second alert's entry after the outage"
        )
        async with SseStream(stream_url, last_event_id=seen, headers=bearer(ours, department)) as resumed:
            await eventually(lambda: _on(resumed, second), what="the second alert on the resumed stream")
            await eventually(lambda: _caught_up(resumed, held), what="every entry after Last-Event-ID")
        ids = [e.id for e in resumed.events if e.id is not None]
        assert ids == held  # after the last one seen: each entry once, in order, none missed
        assert not resumed.of(first)  # nothing seen before is sent again


async def _on(stream: SseStream, task_id: str) -> list[Any]:
    return stream.of(task_id)


async def _more_than(settings: Any, person: str, seen: int) -> list[int]:
    return [seq for seq in await _entries(settings, person) if seq > seen]


async def _caught_up(stream: SseStream, held: list[int]) -> bool:
    return [e.id for e in stream.events if e.id is not None][-1:] == held[-1:]
