"""A large, realistic read model for the reporting benchmark, written straight into the tables (COPY).

Not through Kafka: the benchmark measures reading, and a million events through the consumer would
measure the consumer. The history rows are what the handlers write for the same timelines (one row
per interval of a bucket and deadline in force); the journal and ``live`` are then derived from them
by ``journal_apply``, the function the handlers themselves call.

The shape follows the working group's reports (seed 004) and the cascade of seed 001:

* a tree of about 5,300 agencies, five levels deep: the Government; 22 ministries with their
  departments and divisions; 34 provinces, each with its office, 15 departments (sở) with divisions
  (phòng) and teams (tổ), and 40 communes;
* documents (resolutions, plans, letters) of 30–400 tasks, issued by the Government to ministries and
  provinces, by a province to its departments and communes, by a ministry to its departments — more of
  them in recent months, as the system fills up — each setting one to five deadlines;
* most tasks done on time, some late, a few stuck past their deadline; recent ones within it;
  some without a fixed deadline, some withdrawn, some extended (the deadline in force moves and the
  completion is judged against the new one); 5 % key tasks, 1 % secret;
* about one task in twelve handed down (delegated) to a unit of its lead, by a letter of the lead (one
  per document it delegates from).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from events.clock import VN_TZ
from services.reporting.domain import OPEN_BUCKETS

NOW = datetime(2023, 6, 30, 10, 0, tzinfo=VN_TZ)
START = date(2019, 1, 1)
INFINITY = datetime.max.replace(tzinfo=UTC)  # asyncpg writes this as PostgreSQL infinity
LAYOUT = 4  # bumped when the tables the seed writes change: an older bench database is seeded again

Progress = Callable[[str], None]
Agency = tuple[str, str | None, str, str]  # id, parent, name, level


def agencies() -> list[Agency]:
    out: list[Agency] = [("cp", None, "Chính phủ", "chinh-phu")]
    for m in range(1, 23):
        bo = f"bo-{m}"
        out.append((bo, "cp", f"Bộ {m}", "bo-nganh"))
        for c in range(1, 6):
            cuc = f"{bo}-c{c}"
            out.append((cuc, bo, f"Cục {c} thuộc Bộ {m}", "cuc-vu"))
            out += [(f"{cuc}-p{p}", cuc, f"Phòng {p} Cục {c} Bộ {m}", "phong") for p in range(1, 3)]
    for t in range(1, 35):
        tinh = f"t{t}"
        out.append((tinh, "cp", f"Ủy ban nhân dân tỉnh {t}", "ubnd-tinh"))
        out.append((f"{tinh}-vp", tinh, f"Văn phòng UBND tỉnh {t}", "van-phong"))
        for s in range(1, 16):
            so = f"{tinh}-s{s}"
            out.append((so, tinh, f"Sở {s} tỉnh {t}", "so-nganh"))
            for p in range(1, 4):
                phong = f"{so}-p{p}"
                out.append((phong, so, f"Phòng {p} Sở {s} tỉnh {t}", "phong"))
                out.append((f"{phong}-t1", phong, f"Tổ 1 Phòng {p} Sở {s} tỉnh {t}", "to"))
        out += [(f"{tinh}-x{x}", tinh, f"UBND xã {x} tỉnh {t}", "ubnd-xa") for x in range(1, 41)]
    return out


def closure(rows: list[Agency]) -> Iterator[tuple[str, str, int]]:
    parent = {a: p for a, p, _, _ in rows}
    for agency, *_ in rows:
        node: str | None = agency
        depth = 0
        while node is not None:
            yield node, agency, depth
            node, depth = parent[node], depth + 1


def _at(d: date, hour: int) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=VN_TZ)


@dataclass
class Tree:
    rows: list[Agency]
    children: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for a, p, _, _ in self.rows:
            self.children.setdefault(a, [])
            if p is not None:
                self.children.setdefault(p, []).append(a)

    def below(self, agency: str, levels: int) -> list[str]:
        """Agencies 1..levels below ``agency``."""
        out, frontier = [], [agency]
        for _ in range(levels):
            frontier = [c for a in frontier for c in self.children[a]]
            out += frontier
        return out


@dataclass
class Task:
    task_id: str
    code: str
    title: str
    document: str
    assigning: str
    lead: str
    issued: date
    assigned_at: datetime
    due: date | None
    key: bool
    secret: bool
    parent_id: str | None = None
    parent_lead: str | None = None
    intervals: list[tuple[datetime, str, date | None]] = field(default_factory=list)
    finish_on: date | None = None
    on_time: bool | None = None
    withdrawn_at: datetime | None = None
    percent: int = 0


def _timeline(task: Task, rng: random.Random) -> None:
    """What happened to the task up to NOW: intervals of (since, bucket, deadline in force)."""
    today = NOW.date()
    issued, due = task.issued, task.due
    events: list[tuple[datetime, str, date | None]] = []
    if due is None:
        if rng.random() < 0.55:
            events.append((_at(issued + timedelta(days=rng.randint(10, 300)), 15), "done", None))
    else:
        if rng.random() < 0.04 and (due - issued).days > 10:  # an extension, approved before the deadline
            at = issued + timedelta(days=rng.randint(5, (due - issued).days - 1))
            due = due + timedelta(days=rng.randint(30, 120))
            events.append((_at(at, 11), "extend", due))
        roll = rng.random()
        if roll < 0.80:  # on time, any day up to the deadline
            finish = due - timedelta(days=rng.randint(0, max(0, (due - issued).days - 2)))
        elif roll < 0.955:  # late, mostly within a few months
            finish = due + timedelta(days=int(rng.expovariate(1 / 35)) + 1)
        else:  # stuck: not done by NOW
            finish = None
        if finish is not None:
            events.append((_at(max(finish, issued + timedelta(days=1)), 15), "done", None))
        if rng.random() < 0.7:
            events.append((_at(issued + timedelta(days=rng.randint(1, 40)), 10), "start", None))
    if rng.random() < 0.008:
        events.append((_at(issued + timedelta(days=rng.randint(3, 200)), 16), "withdraw", None))
    events = sorted(e for e in events if e[0].date() <= today and e[0] < NOW)

    bucket = "nodl_open" if task.due is None else "new"
    in_force = task.due
    task.intervals = [(task.assigned_at, bucket, in_force)]
    for at, kind, value in events:
        if bucket in ("on_time", "late", "nodl_done", "withdrawn"):
            break  # closed: later plans did not happen
        if kind == "extend":
            in_force = value
        elif kind == "start" and bucket == "new":
            bucket = "started"
            task.percent = 40
        elif kind == "done":
            if in_force is None:
                bucket = "nodl_done"
            else:
                task.on_time = at.date() <= in_force
                bucket = "on_time" if task.on_time else "late"
            task.finish_on = at.date()
            task.percent = 100
        elif kind == "withdraw":
            bucket = "withdrawn"
            task.withdrawn_at = at
        else:
            continue
        counted = in_force if bucket in OPEN_BUCKETS else None
        last_at, last_bucket, last_due = task.intervals[-1]
        if (bucket, counted) == (last_bucket, last_due if last_bucket in OPEN_BUCKETS else None):
            continue
        if at <= last_at:
            task.intervals[-1] = (last_at, bucket, in_force)
        else:
            task.intervals.append((at, bucket, in_force))
    task.due = in_force


def tasks(n: int, tree: Tree, rng: random.Random) -> Iterator[Task]:
    """``n`` tasks in documents; about one in twelve with a delegated child task."""
    days = (NOW.date() - START).days
    provinces = [a for a in tree.children["cp"] if a.startswith("t")]
    ministries = [a for a in tree.children["cp"] if a.startswith("bo")]
    made = doc_no = 0
    letters: dict[tuple[str, str], str] = {}  # one letter per document and delegating agency
    while made < n:
        doc_no += 1
        back = min(days, int(rng.expovariate(1 / 520)))
        issued = NOW.date() - timedelta(days=back + 1)
        who = rng.random()
        if who < 0.3:
            issuer, document, leads = (
                "cp",
                f"{doc_no}/NQ-CP",
                tree.children["cp"] + [c for a in ministries for c in tree.children[a]],
            )
        elif who < 0.8:
            issuer = rng.choice(provinces)
            document, leads = f"{doc_no}/KH-UBND", tree.below(issuer, 3)
        else:
            issuer = rng.choice(ministries)
            document, leads = f"{doc_no}/KH-BO", tree.below(issuer, 2)
        size = min(rng.randint(30, 400), n - made)
        deadlines = [issued + timedelta(days=rng.randint(20, 400)) for _ in range(rng.randint(1, 5))]
        for _ in range(size):
            if made >= n:
                break
            made += 1
            task = Task(
                task_id=f"b{made}",
                code=f"{document}#{made}",
                title=f"Nhiệm vụ số {made} theo văn bản {document}",
                document=document,
                assigning=issuer,
                lead=rng.choice(leads),
                issued=issued,
                assigned_at=_at(issued, 9),
                due=None if rng.random() < 0.05 else rng.choice(deadlines),
                key=rng.random() < 0.05,
                secret=rng.random() < 0.01,
            )
            _timeline(task, rng)
            yield task
            units = tree.children[task.lead]
            if made < n and task.due is not None and units and rng.random() < 0.085:
                made += 1
                letter = letters.setdefault((document, task.lead), f"{len(letters) + 1}/CV-{task.lead}")
                given = issued + timedelta(days=rng.randint(2, 15))
                child = Task(
                    task_id=f"b{made}",
                    code=f"{letter}#{made}",
                    title=f"Thực hiện một phần nhiệm vụ {task.code}",
                    document=letter,
                    assigning=task.lead,
                    lead=rng.choice(units),
                    issued=given,
                    assigned_at=_at(given, 14),
                    due=max(given + timedelta(days=5), task.due - timedelta(days=rng.randint(0, 15))),
                    key=task.key,
                    secret=task.secret,
                    parent_id=task.task_id,
                    parent_lead=task.lead,
                )
                if child.assigned_at < NOW:
                    _timeline(child, rng)
                    yield child
                else:
                    made -= 1


TASK_COLUMNS = (
    "task_id",
    "code",
    "title",
    "document",
    "assigning_agency_id",
    "lead_agency_id",
    "coordinating_agency_ids",
    "officer_in_charge_id",
    "deadline_kind",
    "deadline_text",
    "original_due",
    "due",
    "key_task",
    "classification",
    "status",
    "percent",
    "assigned_at",
    "assigned_on",
    "bucket",
    "updated_at",
    "completed_on",
    "on_time",
    "withdrawn_at",
    "parent_task_id",
    "parent_lead_agency_id",
)
HISTORY_COLUMNS = (
    "task_id",
    "valid_from",
    "valid_to",
    "bucket",
    "due",
    "lead_agency_id",
    "document",
    "assigned_on",
    "key_task",
    "secret",
    "involved",
    "delegated",
    "parent_lead",
)


def task_row(t: Task, original_due: date | None) -> tuple[object, ...]:
    bucket = t.intervals[-1][1]
    status = (
        "withdrawn" if bucket == "withdrawn" else "completed" if bucket in ("on_time", "late", "nodl_done") else "open"
    )
    return (
        t.task_id,
        t.code,
        t.title,
        t.document,
        t.assigning,
        t.lead,
        [],
        None,
        "none" if t.due is None else "fixed",
        "Theo tiến độ" if t.due is None else f"Trước ngày {original_due:%d/%m/%Y}",
        original_due,
        t.due,
        t.key,
        "mat" if t.secret else "cong-khai",
        status,
        t.percent,
        t.assigned_at,
        t.issued,
        bucket,
        t.intervals[-1][0],
        t.finish_on,
        t.on_time,
        t.withdrawn_at,
        t.parent_id,
        t.parent_lead,
    )


def history_rows(t: Task) -> Iterator[tuple[object, ...]]:
    for i, (since, bucket, due) in enumerate(t.intervals):
        until = t.intervals[i + 1][0] if i + 1 < len(t.intervals) else INFINITY
        yield (
            t.task_id,
            since,
            until,
            bucket,
            due if bucket in OPEN_BUCKETS else None,
            t.lead,
            t.document,
            t.issued,
            t.key,
            t.secret,
            [t.assigning, t.lead],
            t.parent_id is not None,
            t.parent_lead,
        )


TABLES = ("tasks", "task_history", "agencies", "agency_tree", "people", "journal", "live", "documents")


async def seed(conn: asyncpg.Connection, n: int, progress: Progress) -> None:
    rng = random.Random(131)
    for table in TABLES:
        await conn.execute(f"TRUNCATE {table}")
    rows = agencies()
    tree = Tree(rows)
    depth: dict[str, int] = {}
    for _, agency, d in closure(rows):
        depth[agency] = max(depth.get(agency, 0), d)
    await conn.copy_records_to_table(
        "agencies",
        records=[(a, p, name, name, level, None, 1, True, depth[a]) for a, p, name, level in rows],
        columns=(
            "agency_id",
            "parent_id",
            "name",
            "short_name",
            "level",
            "successor_id",
            "version",
            "known",
            "depth",
        ),
    )
    await conn.copy_records_to_table(
        "agency_tree", records=list(closure(rows)), columns=("ancestor_id", "agency_id", "depth")
    )
    await conn.copy_records_to_table(
        "people",
        records=[(f"p-{a}-head", a, f"Thủ trưởng {name}", "head", "Người đứng đầu", 1) for a, _, name, _ in rows],
        columns=("person_id", "agency_id", "full_name", "role", "title", "version"),
    )
    progress(f"{len(rows):,} agencies; generating {n:,} tasks")
    batch_tasks: list[tuple[object, ...]] = []
    batch_history: list[tuple[object, ...]] = []
    documents: dict[str, tuple[date, str]] = {}
    copied = 0
    for task in tasks(n, tree, rng):
        original = task.intervals[0][2]
        batch_tasks.append(task_row(task, original))
        batch_history += history_rows(task)
        documents.setdefault(task.document, (task.issued, task.assigning))
        if len(batch_tasks) >= 50_000:
            await conn.copy_records_to_table("tasks", records=batch_tasks, columns=TASK_COLUMNS)
            await conn.copy_records_to_table("task_history", records=batch_history, columns=HISTORY_COLUMNS)
            copied += len(batch_tasks)
            batch_tasks, batch_history = [], []
            progress(f"  {copied:,} tasks copied")
    if batch_tasks:
        await conn.copy_records_to_table("tasks", records=batch_tasks, columns=TASK_COLUMNS)
        await conn.copy_records_to_table("task_history", records=batch_history, columns=HISTORY_COLUMNS)
    await conn.copy_records_to_table(
        "documents",
        records=[(d, issued, issuer) for d, (issued, issuer) in documents.items()],
        columns=("number", "issued_on", "issuer"),
    )
    progress(f"{len(documents):,} documents; journal")
    async with conn.transaction():
        await conn.execute("SET LOCAL work_mem = '512MB'")
        await conn.execute("UPDATE live_day SET day = $1", NOW.date())
        await conn.execute("SELECT journal_apply(NULL, 1)")
    progress("vacuum analyze")
    await conn.execute("VACUUM ANALYZE")  # as autovacuum would: index-only reads need the visibility map
