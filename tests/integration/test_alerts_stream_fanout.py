"""Many open streams woken by one commit (services/alerts/stream.py): their reads and their re-checks are
gathered into a few statements for all of them, and that changes nothing a stream sends. Each gets exactly
its own person's entries, in order, once; a revoked token or a moved person among them still ends that
stream with its refusal, and only that one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from events.clock import VN_TZ, ManualClock
from events.directory import PersonChanged, TokenRevoked
from services.alerts import inapp, stream
from services.alerts.bootstrap import definition
from services.alerts.config import AlertsConfig
from services.runtime import auth
from tests.conftest import eventually, unique
from tests.integration.progress_alerts_kit import SseEvent, SseStream, envelope, fetch, publish, seed_directory, serve

pytestmark = pytest.mark.integration

STREAMS = 12
PER_PERSON = 3


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ))


@pytest.fixture
async def http(run_service: Any, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    # Keep-alives far apart: what reaches the streams is woken by the commit, not found by a keep-alive.
    async with run_service(definition(AlertsConfig(stream_keepalive_s=600.0)), clock) as client:
        yield client


async def _people(infra: Any, settings: Any, clock: ManualClock, agency: str, other: str) -> list[str]:
    people = [unique(f"p{i}") for i in range(STREAMS)]
    await seed_directory(
        infra.kafka,
        clock.now(),
        agencies=[{"agency_id": agency, "name": "Sở Nội vụ"}, {"agency_id": other, "name": "Sở Tư pháp"}],
        people=[{"person_id": p, "agency_id": agency, "role": "officer"} for p in people],
    )
    sql = "SELECT count(*) AS n FROM people WHERE person_id = ANY($1::text[])"

    async def known() -> bool:
        return (await fetch(settings, "alerts", sql, people))[0]["n"] == len(people)

    await eventually(known, what="the directory's people")
    return people


async def _commit_entries(settings: Any, people: Sequence[str], marker: str) -> None:
    """One transaction adds ``PER_PERSON`` entries for each person, interleaved, as a consumer run would."""
    entries = inapp.Entries()
    for n in range(PER_PERSON):
        for person in people:
            entries.add(person, "alert", {"marker": marker, "person": person, "n": n})
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "alerts"})
    try:
        async with conn.transaction():
            await entries.write(conn)
    finally:
        await conn.close()


def _marked(live: SseStream, marker: str) -> list[SseEvent]:
    return [e for e in live.events if e.data.get("marker") == marker]


def _headers(settings: Any, agency: str) -> tuple[dict[str, str], str]:
    token, principal = auth.issue(settings.token_secret, agency, datetime.now(VN_TZ))
    return {"Authorization": f"Bearer {token}"}, principal.token_id


async def test_streams_woken_by_one_commit_each_get_exactly_their_entries_in_order_once(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency, other = unique("so-noi-vu"), unique("so-tu-phap")
    people = await _people(infra, settings, clock, agency, other)
    reads: list[int] = []
    read_many = inapp.entries_after_many

    async def counted(conn: Any, cursors: Sequence[tuple[str, int]], limit: int = 500) -> Any:
        reads.append(len(cursors))
        return await read_many(conn, cursors, limit)

    monkeypatch.setattr(inapp, "entries_after_many", counted)
    marker = unique("m")
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        streams = [
            SseStream(f"{url}/v1/alerts/stream?person_id={p}", headers=_headers(settings, agency)[0]) for p in people
        ]
        for live in streams:
            await live.__aenter__()
        try:
            await eventually(_all_idle(reads), what="every stream's first read")
            reads.clear()
            await _commit_entries(settings, people, marker)
            for person, live in zip(people, streams, strict=True):
                await eventually(
                    _has(live, marker, PER_PERSON), what=f"{person}'s {PER_PERSON} entries on their stream"
                )
            # Another commit afterwards: nothing of the first comes again.
            later = unique("m")
            await _commit_entries(settings, people[:1], later)
            await eventually(_has(streams[0], later, PER_PERSON), what="the later entries")
        finally:
            for live in streams:
                await live.__aexit__(None, None, None)

    for person, live in zip(people, streams, strict=True):
        mine = _marked(live, marker)
        assert [(e.data["person"], e.data["n"]) for e in mine] == [(person, n) for n in range(PER_PERSON)]
        ids = [e.id for e in live.events if e.id is not None]
        assert ids == sorted(set(ids)), "an entry came twice or out of order"
    # Gathered: the woken streams did not each read alone.
    assert max(reads) > 1 and len(reads) < STREAMS, reads


def _all_idle(reads: list[int]) -> Any:
    async def check() -> bool:
        return sum(reads) >= STREAMS

    return check


def _has(live: SseStream, marker: str, n: int) -> Any:
    async def check() -> bool:
        return len(_marked(live, marker)) >= n

    return check


async def test_a_revoked_token_or_a_moved_person_among_streams_woken_together_ends_only_that_stream(
    infra: Any, settings: Any, http: httpx.AsyncClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "RECHECK_EVERY_S", 0.0)  # each wake asks again: no window to wait out
    agency, other = unique("so-noi-vu"), unique("so-tu-phap")
    people = await _people(infra, settings, clock, agency, other)
    tokens = [_headers(settings, agency) for _ in people]
    moved_person = people[1]
    marker = unique("m")
    async with serve(http.app) as url:  # type: ignore[attr-defined]
        streams = [
            SseStream(f"{url}/v1/alerts/stream?person_id={p}", headers=headers)
            for p, (headers, _) in zip(people, tokens, strict=True)
        ]
        for live in streams:
            await live.__aenter__()
        try:
            token_id = tokens[0][1]
            revoked = TokenRevoked(token_id=token_id, agency_id=agency, revoked_at=clock.now())
            await publish(infra.kafka, envelope(revoked, task_id=None, at=clock.now()), key=f"token:{token_id}")
            moved = PersonChanged(
                person_id=moved_person, agency_id=other, full_name=moved_person, role="officer", version=2
            )
            await publish(infra.kafka, envelope(moved, task_id=None, at=clock.now()), key=moved_person)

            async def both_known() -> bool:
                gone = await fetch(settings, "alerts", "SELECT 1 FROM revoked_tokens WHERE token_id = $1", token_id)
                sql = "SELECT 1 FROM people WHERE person_id = $1 AND agency_id = $2"
                return bool(gone) and bool(await fetch(settings, "alerts", sql, moved_person, other))

            await eventually(both_known, what="alerts to read the revocation and the move")
            await _commit_entries(settings, people, marker)
            for live in streams[2:]:
                await eventually(_has(live, marker, PER_PERSON), what="the others' entries")
            ended = await asyncio.wait_for(asyncio.gather(*(_ended(live) for live in streams[:2])), 20.0)
        finally:
            for live in streams:
                await live.__aexit__(None, None, None)

    revoked_last, moved_last = ended
    assert revoked_last.event == "refused" and revoked_last.data["code"] == "unauthorized", streams[0].events
    assert "revoked" in revoked_last.data["message"] and "thu hồi" in revoked_last.data["message_vi"]
    assert moved_last.event == "refused", streams[1].events
    assert (moved_last.data["status"], moved_last.data["code"]) == (403, "not-persons-agency")
    assert _marked(streams[0], marker) == [] and _marked(streams[1], marker) == []
    for person, live in zip(people[2:], streams[2:], strict=True):
        assert [(e.data["person"], e.data["n"]) for e in _marked(live, marker)] == [(person, n) for n in range(3)]
        assert live.events[-1].event != "refused"


async def _ended(live: SseStream) -> SseEvent:
    assert live._task is not None
    await live._task
    return live.events[-1]
