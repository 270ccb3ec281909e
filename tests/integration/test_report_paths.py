"""The fast path (journal, live) gives the same tallies as the full history, on random histories.

A few hundred tasks with random lives (progress, completion on time or late, returns, extensions,
recurring occurrences, withdrawal, delegation down and across the tree, secret and key tasks) and a
directory that arrives late and is reorganised, fed to the production handlers in a random order
across tasks; the live day moved about as the service would. Then, at random instants, at the ends
of days and at the very instants things happened: every scope's figures by the journal equal those
by the history, the per-agency and per-document breakdowns too, and the journal rebuilt from the
history equals the one the handlers kept. Also a small hand-computed case of the categories and
ageing bands. PostgreSQL only (no broker): each test migrates a schema of its own.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from events.clock import VN_TZ, ManualClock
from events.deadlines import parse_deadline
from events.directory import AgencyChanged
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.progress import CompletionReported, CompletionReturned
from events.tasks import (
    DeadlineExtended,
    ProgressReported,
    SourceDocument,
    TaskAssigned,
    TaskCompleted,
    TaskWithdrawn,
)
from services.reporting import queries, summary
from services.reporting.bootstrap import DEFINITION
from services.reporting.domain import STATES, figures_from
from services.reporting.queries import AgencyGroups, Filters, Tally
from services.runtime import db
from services.runtime.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration

START = datetime(2022, 1, 1, 8, 0, tzinfo=VN_TZ)
DOCUMENTS = [SourceDocument(number=f"{n}/NQ-CP", issued_on=date(2022, 1, 1), issuer="Chính phủ") for n in (1, 2, 3)]
LETTER = SourceDocument(number="9/CV", issued_on=date(2022, 2, 1), issuer="Sở")


@pytest.fixture
async def schema(infra: Any) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    name = f"rp_{uuid.uuid4().hex[:10]}"
    pool = await db.create_pool(infra.database_url, name, min_size=1, max_size=2)
    await db.migrate(pool, name, {"runtime": db.RUNTIME_MIGRATIONS, "reporting": DEFINITION.migrations})
    try:
        yield pool, name
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await pool.close()


def vn(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=VN_TZ)


@dataclass
class World:
    """Events of one random history, per stream (a task, or the directory), each in its own order."""

    rng: random.Random
    streams: dict[str, list[Envelope]] = field(default_factory=dict)
    agencies: dict[str, str | None] = field(default_factory=dict)
    moments: list[datetime] = field(default_factory=list)

    def add(self, stream: str, payload: EventPayload, at: datetime, task_id: str | None = None) -> None:
        envelope = new_envelope(
            payload,
            event_id=uuid.uuid4(),
            occurred_at=at,
            producer="test",
            actor=Actor(agency_id="cp"),
            task_id=task_id,
        )
        self.streams.setdefault(stream, []).append(envelope)
        self.moments.append(at)

    def agency(self, agency_id: str, parent: str | None, at: datetime, version: int) -> None:
        self.agencies[agency_id] = parent
        self.add(
            "directory",
            AgencyChanged(
                agency_id=agency_id, name=agency_id, short_name=agency_id, level="x", parent_id=parent, version=version
            ),
            at,
        )

    def delivery_order(self) -> list[Envelope]:
        """Every stream's events in its own order, streams interleaved at random (as partitions are)."""
        cursors = {name: 0 for name in self.streams}
        out = []
        while cursors:
            name = self.rng.choice(sorted(cursors))
            out.append(self.streams[name][cursors[name]])
            cursors[name] += 1
            if cursors[name] == len(self.streams[name]):
                del cursors[name]
        return out


def random_world(seed: int, tasks: int) -> World:
    rng = random.Random(seed)
    w = World(rng)
    # A tree of 16 agencies up to four levels deep under "cp", and a stray root "other".
    tree: dict[str, str | None] = {"cp": None, "other": None}
    names = [f"a{i}" for i in range(16)]
    for i, name in enumerate(names):
        tree[name] = rng.choice(["cp", *names[:i]]) if i else "cp"
    for agency, parent in tree.items():
        # Half the directory arrives only after tasks name its agencies.
        w.agency(agency, parent, START if rng.random() < 0.5 else START + timedelta(days=200), 1)
    # Reorganisation: two agencies move (a subtree moves with each), one of them to the top level.
    for agency, new_parent in ((rng.choice(names[4:]), "cp"), (rng.choice(names[1:]), "other")):
        subtree = {agency}
        grew = True
        while grew:
            grew = False
            for a, p in tree.items():
                if p in subtree and a not in subtree:
                    subtree.add(a)
                    grew = True
        if new_parent not in subtree:
            tree[agency] = new_parent
            w.agency(agency, new_parent, START + timedelta(days=rng.randint(250, 400)), 2)
    agencies = list(tree)
    made: list[tuple[str, str, date | None]] = []  # (task id, lead, due)
    for n in range(tasks):
        task_id = f"t{n}"
        assigned = START + timedelta(minutes=rng.randrange(500 * 24 * 60))
        up = rng.choice(made) if made and rng.random() < 0.25 else None  # the parent task
        lead = rng.choice(agencies)
        if up is not None and rng.random() < 0.7:  # mostly down the parent's lead's subtree
            below = [a for a in agencies if _under(tree, a, up[1]) and a != up[1]]
            lead = rng.choice(below) if below else lead
        roll = rng.random()
        if roll < 0.1:
            deadline = parse_deadline("Theo tiến độ Kế hoạch", assigned.date())
        elif roll < 0.15:
            deadline = parse_deadline("trước ngày 30 tháng 9 hàng năm", assigned.date())
        else:
            due = assigned.date() + timedelta(days=rng.randint(-20, 200))
            deadline = parse_deadline(f"ngày {due:%d/%m/%Y}", assigned.date())
        w.add(
            task_id,
            TaskAssigned(
                code=task_id,
                title=f"Nhiệm vụ {n}",
                source_document=LETTER if up else rng.choice(DOCUMENTS),
                assigning_agency_id=rng.choice(agencies),
                lead_agency_id=lead,
                coordinating_agency_ids=tuple(rng.sample(agencies, rng.randint(0, 2))),
                deadline=deadline,
                key_task=rng.random() < 0.2,
                classification="mat" if rng.random() < 0.1 else "cong-khai",  # type: ignore[arg-type]
                parent_task_id=up[0] if up else None,
            ),
            assigned,
            task_id,
        )
        made.append((task_id, lead, deadline.due))
        _life(w, task_id, assigned, deadline.due, deadline.kind)
    return w


def _under(tree: dict[str, str | None], agency: str, ancestor: str) -> bool:
    node: str | None = agency
    while node is not None:
        if node == ancestor:
            return True
        node = tree[node]
    return False


def _life(w: World, task_id: str, at: datetime, due: date | None, kind: str) -> None:
    """Random events of one task after its assignment, in time order."""
    rng = w.rng
    done = False
    for _ in range(rng.randint(0, 6)):
        at += timedelta(minutes=rng.randrange(1, 90 * 24 * 60))
        if rng.random() < 0.15:
            at = at.replace(hour=0, minute=0) + timedelta(days=1)  # right at midnight
        roll = rng.random()
        if done:
            if roll < 0.4:
                w.add(
                    task_id,
                    CompletionReturned(reason="Chưa đạt", reported_on=at.date(), deadline_in_force=due),
                    at,
                    task_id,
                )
                done = False
            elif roll < 0.6 and kind == "recurring" and due is not None:
                next_due = due.replace(year=due.year + 1)
                w.add(
                    task_id,
                    TaskCompleted(
                        reported_on=at.date(),
                        deadline_in_force=due,
                        on_time=at.date() <= due,
                        product="x",
                        next_due=next_due,
                    ),
                    at,
                    task_id,
                )
                due, done = next_due, False
            elif roll < 0.7:
                w.add(
                    task_id,
                    TaskCompleted(
                        reported_on=at.date(),
                        deadline_in_force=due,
                        on_time=None if due is None else at.date() <= due,
                        product="x",
                    ),
                    at,
                    task_id,
                )
        elif roll < 0.3:
            w.add(task_id, ProgressReported(percent=rng.randint(0, 90)), at, task_id)
        elif roll < 0.65:
            on_time = None if due is None else at.date() <= due
            w.add(
                task_id,
                CompletionReported(reported_on=at.date(), deadline_in_force=due, on_time=on_time, product="x"),
                at,
                task_id,
            )
            done = True
        elif roll < 0.8 and due is not None and kind == "fixed":
            new = due + timedelta(days=rng.randint(1, 120))
            w.add(
                task_id,
                DeadlineExtended(
                    request_id=f"{task_id}-{new}",
                    decided_by_agency_id="cp",
                    previous_due=due,
                    due=new,
                    deadline=parse_deadline(f"ngày {new:%d/%m/%Y}", new),
                    original_due=due,
                ),
                at,
                task_id,
            )
            due = new
        elif roll < 0.85:
            w.add(task_id, TaskWithdrawn(withdrawn_by_agency_id="cp", reason="Không còn phù hợp"), at, task_id)
            return


async def feed(pool: asyncpg.Pool, schema: str, envelopes: list[Envelope], rng: random.Random) -> None:
    handlers = DEFINITION.handlers
    clock = ManualClock(START)
    for i, envelope in enumerate(envelopes):
        async with pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, "reporting", schema, clock, cause=envelope)
            await handlers[envelope.event_type](envelope, uow)
        if i % 97 == 0:  # the service moves live to "today" now and then, and a test clock jumps about
            day = (START + timedelta(days=rng.randint(0, 700))).date()
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT live_roll($1)", day)


async def journal_rows(conn: asyncpg.Connection) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    nonzero = " OR ".join(f"{c} <> 0" for c in STATES)
    journal = {tuple(r) for r in await conn.fetch(f"SELECT * FROM journal WHERE {nonzero}")}
    live = {tuple(r) for r in await conn.fetch(f"SELECT * FROM live WHERE {nonzero}")}
    return journal, live


def _plain(tallies: dict[str | None, Tally]) -> dict[str | None, tuple[list[int], list[int]]]:
    return {k: (v.every, v.key) for k, v in tallies.items() if any(v.every) or any(v.key)}


def _rows(tallies: dict[str | None, Tally]) -> dict[str | None, list[int]]:
    """A breakdown's rows: all tasks only (key tasks are counted apart for the whole view alone)."""
    return {k: v.every for k, v in tallies.items() if any(v.every)}


async def assert_paths_agree(conn: asyncpg.Connection, moments: list[datetime], agencies: list[str]) -> int:
    """Journal and history agree for every scope and breakdown at these moments; returns the checks made."""
    checks = 0
    documents = [d.number for d in DOCUMENTS] + [LETTER.number, "no-such-document"]
    filters = [Filters(), *(Filters(document=d) for d in documents)]
    filters += [Filters(agency_id=a) for a in agencies]
    filters += [Filters(agency_id=a, lead_only=True) for a in agencies]
    filters += [Filters(agency_id=a, viewer=a) for a in agencies[:3]]
    for at in moments:
        for f in filters:
            fast = await queries.counts_at(conn, f, at)
            slow = await queries.counts_at(conn, f, at, force_history=True)
            assert _plain(fast) == _plain(slow), (at, f)
            checks += 1
        for parent in (None, *agencies):
            f = Filters(agency_id=parent)
            groups = await summary.breakdown_parent(conn, f)
            fast = await queries.counts_at(conn, f, at, "agency", groups)
            slow = await queries.counts_at(conn, f, at, "agency", groups, force_history=True)
            assert _rows(fast) == _rows(slow), (at, parent, groups)
            # The rows partition the view: they add up to its figures.
            whole = (await queries.counts_at(conn, f, at, force_history=True)).get(None, Tally())
            rows = Tally()
            for tally in slow.values():
                rows.add(tally)
            if parent is not None or groups.parent is None:
                assert rows.every == whole.every, (at, parent)
            checks += 2
        fast = await queries.counts_at(conn, Filters(), at, "document", top=3)
        slow = await queries.counts_at(conn, Filters(), at, "document", top=3, force_history=True)
        assert _rows(fast) == _rows(slow), at
        checks += 1
    return checks


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_journal_and_the_history_agree_on_random_histories(
    schema: tuple[asyncpg.Pool, str], seed: int
) -> None:
    pool, name = schema
    world = random_world(seed, tasks=160)
    await feed(pool, name, world.delivery_order(), world.rng)
    rng = world.rng
    async with pool.acquire() as conn:
        agencies = [r["agency_id"] for r in await conn.fetch("SELECT agency_id FROM agencies ORDER BY 1")]
        # The journal the handlers kept is the one the history gives.
        kept = await journal_rows(conn)
        # The history exercised what is hard: a task delegated across units ('x' rows), a child read
        # before its parent, agencies moved.
        assert any(row[0] == "x" for row in kept[0])
        assert await conn.fetchval("SELECT count(*) FROM agencies WHERE version = 2") >= 1
        async with conn.transaction():
            await conn.execute("TRUNCATE journal, live")
            await conn.execute("SELECT journal_apply(NULL, 1)")
        assert await journal_rows(conn) == kept
        # Moments: at random, ends of days, the very instants of events and just around them.
        picked = rng.sample(world.moments, 6)
        moments = [m + d for m in picked for d in (timedelta(0), timedelta(microseconds=-1), timedelta(microseconds=1))]
        moments += [START + timedelta(minutes=rng.randrange(800 * 24 * 60)) for _ in range(5)]
        moments += [summary.end_of_day((START + timedelta(days=rng.randrange(800))).date()) for _ in range(3)]
        checks = 0
        for day in (START.date() + timedelta(days=300), START.date() + timedelta(days=650)):
            async with conn.transaction():
                await conn.execute("SELECT live_roll($1)", day)
            near = [vn(day, 15), vn(day - timedelta(days=20), 3), vn(day + timedelta(days=40), 22)]
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                checks += await assert_paths_agree(conn, moments + near, agencies)
    assert checks > 500


# --- a small case computed by hand -----------------------------------------------------------------

D = date(2023, 6, 30)


async def test_categories_and_ageing_bands_on_a_hand_computed_case(schema: tuple[asyncpg.Pool, str]) -> None:
    """On 30/06/2023: due that day is within; 1 and 30 days past are "up to 30"; 31 and 90 are 31–90;
    91 and 120 are 91–120; 121 is over 120. Completed, no-deadline and withdrawn tasks are apart from
    the overdue ones; a task done later that day still counts as open at 10:00."""
    pool, name = schema
    w = World(random.Random(0))
    w.agency("cp", None, vn(date(2023, 1, 1)), 1)
    days_past = {
        "within-0": 0,
        "within-future": -10,
        "d1": 1,
        "d30": 30,
        "d31": 31,
        "d90": 90,
        "d91": 91,
        "d120": 120,
        "d121": 121,
    }
    assigned = vn(date(2023, 1, 2))
    for task_id, past in days_past.items():
        due = D - timedelta(days=past)
        w.add(task_id, _assigned(task_id, parse_deadline(f"ngày {due:%d/%m/%Y}", date(2023, 1, 1))), assigned, task_id)
    w.add("d30", ProgressReported(percent=10), vn(date(2023, 6, 1)), "d30")  # started: still overdue
    w.add("within-future", ProgressReported(percent=10), vn(date(2023, 6, 1)), "within-future")
    for task_id, done_on, due in (
        ("on-time", date(2023, 5, 1), date(2023, 5, 2)),
        ("late", date(2023, 5, 3), date(2023, 5, 2)),
        ("later-today", D, D - timedelta(days=5)),
    ):
        w.add(task_id, _assigned(task_id, parse_deadline(f"ngày {due:%d/%m/%Y}", date(2023, 1, 1))), assigned, task_id)
        at = vn(done_on, 16)
        w.add(
            task_id,
            CompletionReported(reported_on=done_on, deadline_in_force=due, on_time=done_on <= due, product="x"),
            at,
            task_id,
        )
    w.add("none", _assigned("none", parse_deadline("Thường xuyên", date(2023, 1, 1))), assigned, "none")
    w.add("gone", _assigned("gone", parse_deadline("ngày 01/06/2023", date(2023, 1, 1))), assigned, "gone")
    w.add("gone", TaskWithdrawn(withdrawn_by_agency_id="cp", reason="Không còn phù hợp"), vn(date(2023, 3, 1)), "gone")
    await feed(pool, name, [e for s in w.streams.values() for e in s], random.Random(0))
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT live_roll($1)", D)
        for at, later_today_open in ((vn(D, 10), True), (summary.end_of_day(D), False)):
            for force in (False, True):
                tally = (await queries.counts_at(conn, Filters(), at, force_history=force))[None]
                figures = figures_from(tally.every)
                # within: within-0, within-future (started), and later-today (5 days past) until 16:00
                assert figures.unfinished_within_deadline == 2
                assert figures.not_started == 1
                assert figures.unfinished_overdue == 7 + (1 if later_today_open else 0)
                assert figures.completed_on_time == 1
                assert figures.completed_late == 1 + (0 if later_today_open else 1)
                assert (figures.no_fixed_deadline, figures.withdrawn) == (1, 1)
                assert figures.assigned == 12
                bands = dict(zip(("1-30", "31-90", "91-120", ">120"), tally.every[2:6], strict=True))
                assert bands == {"1-30": 2 + (1 if later_today_open else 0), "31-90": 2, "91-120": 2, ">120": 1}
        # The next morning each moves on: due yesterday is now overdue by a day, 30 becomes 31, …
        tally = (await queries.counts_at(conn, Filters(), vn(D + timedelta(days=1), 8)))[None]
        assert tally.every[2:6] == [2, 2, 2, 2] and tally.every[0] + tally.every[1] == 1


def _assigned(task_id: str, deadline: Any) -> TaskAssigned:
    return TaskAssigned(
        code=task_id,
        title=task_id,
        source_document=DOCUMENTS[0],
        assigning_agency_id="cp",
        lead_agency_id="cp",
        deadline=deadline,
    )


async def test_breakdown_groups_cover_the_parent_view(schema: tuple[asyncpg.Pool, str]) -> None:
    """A task the government leads itself and hands down to a ministry is counted once in the
    government's view, in its own row, and not again in the ministry's row."""
    pool, name = schema
    w = World(random.Random(0))
    w.agency("cp", None, vn(date(2023, 1, 1)), 1)
    w.agency("bo", "cp", vn(date(2023, 1, 1)), 1)
    deadline = parse_deadline("ngày 30/09/2023", date(2023, 1, 1))
    w.add("p", _assigned("p", deadline), vn(date(2023, 1, 2)), "p")
    child = _assigned("c", deadline).model_copy(update={"lead_agency_id": "bo", "parent_task_id": "p"})
    w.add("c", child, vn(date(2023, 1, 3)), "c")
    await feed(pool, name, w.delivery_order(), random.Random(0))
    async with pool.acquire() as conn:
        at = vn(D, 10)
        groups = AgencyGroups("cp", ("bo",))
        for force in (False, True):
            rows = await queries.counts_at(conn, Filters(agency_id="cp"), at, "agency", groups, force_history=force)
            assert {k: sum(v.every) for k, v in rows.items() if any(v.every)} == {"cp": 1}
            ministry = (await queries.counts_at(conn, Filters(agency_id="bo"), at, force_history=force))[None]
            assert sum(ministry.every) == 1  # in the ministry's own view, its part is counted
