"""Writes of the task read model: the current row, its history intervals and the journal, together.

Events are applied in batches (one event is a batch of one): ``TaskBatch.open`` reads and locks the
tasks the events name, the handlers change them in memory, and ``flush`` writes the result in a
few set-based statements, the journal last and once.

Invariants (tests/integration/test_report_paths.py checks them on random histories,
tests/integration/test_report_batches.py that a batch gives what its events one by one give):
* For every task exactly one history row is current (valid_to = infinity), and it equals the task's
  bucket and deadline in force.
* The journal and live (migrations/002) equal what ``journal_apply`` derives from the history rows
  of all tasks: a flush takes the changed tasks' history rows as they were out of them and puts the
  new ones in (``journal_add``, migrations/003), so the two can never drift apart; rebuilding them
  from the history gives the same rows.
* All of it changes in the handler's transaction, with the inbox record: a re-delivered event
  changes nothing, a failed one changes nothing.
* A delegated child task counts once in every view, at the highest level the view holds: not in the
  whole tree nor in a view that also holds its parent's lead (that view counts the parent), but in
  the views of its own lead's subtree below that.
* Transactions side by side (lanes of one consumer, replicas) never deadlock: each takes its locks in
  one order — the ``live`` advisory lock (shared), its tasks by id, documents and agencies by key,
  then the journal and live rows by key in a single statement at its very end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import asyncpg

from events.clock import VN_TZ
from events.tasks import TaskAssigned
from services.reporting import history_cuts
from services.reporting.domain import OPEN_BUCKETS, bucket_of

LIVE_LOCK = "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '.live')::bigint)"
"""Taken first by every batch of task events, which write the journal side by side."""
FAMILY_LOCK = """SELECT pg_advisory_xact_lock(k) FROM (
                   SELECT DISTINCT hashtext(current_schema() || '.family.' || p)::bigint AS k
                   FROM unnest($1::text[]) AS p ORDER BY k) AS keys"""
"""The families of these parent tasks, in one order: taken after ``LIVE_LOCK``, before any task row, by a
batch assigning children or their parents and by a parent's transfer (transfers.py)."""
LIVE_LOCK_ALONE = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.live')::bigint)"
"""Taken first by a move of the agency tree (directory_store.py), which rewrites the journal of many
tasks in two steps; ``live_roll`` takes the same lock."""


@dataclass(frozen=True)
class TaskState:
    """What the counters and the history depend on: the rest of a task lives in its row only."""

    task_id: str
    bucket: str
    due: date | None
    lead_agency_id: str
    document: str
    assigned_on: date
    key_task: bool
    secret: bool
    involved: tuple[str, ...]
    delegated: bool = False
    parent_lead: str | None = None

    @property
    def counted_due(self) -> date | None:
        # Only an unfinished task's deadline matters to the figures; dropping it elsewhere keeps
        # the counters small (all completed tasks of a document share one row).
        return self.due if self.bucket in OPEN_BUCKETS else None


@dataclass
class _Interval:
    """One history row as it will be written; ``stored_from`` is set for the row already stored."""

    valid_from: datetime  # effective: when the state began to hold, as the documents say
    bucket: str
    due: date | None
    valid_to: datetime | None = None  # None: current ('infinity')
    stored_from: datetime | None = None
    changed: bool = False
    recorded_from: datetime | None = None  # when dondoc learnt it began (None: at valid_from)
    recorded_to: datetime | None = None  # when dondoc learnt it ended (None: at valid_to)


@dataclass
class _Task:
    state: TaskState
    parent_task_id: str | None
    stored: bool  # the row exists in the database (else it is inserted by the flush)
    columns: dict[str, Any] = field(default_factory=dict)  # row columns changed by this batch
    intervals: list[_Interval] = field(default_factory=list)  # the current one last
    row: tuple[Any, ...] = ()  # the full row of a task inserted by this batch
    history_changed: bool = False
    adopted: bool = False  # parent_lead learnt in this batch: every stored history row follows
    absorbed: tuple[datetime, ...] = ()  # rows a parent's cuts split off the current one (history_cuts.py)


_COLUMNS = """t.task_id, t.bucket, t.due, t.lead_agency_id, t.document, t.assigned_on, t.key_task,
              t.classification = 'mat' AS secret,
              ARRAY[t.assigning_agency_id, t.lead_agency_id] || t.coordinating_agency_ids AS involved,
              t.parent_task_id IS NOT NULL AS delegated, t.parent_lead_agency_id AS parent_lead"""


class TaskBatch:
    """The tasks a batch of events touches, changed in memory and written by ``flush``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.tasks: dict[str, _Task] = {}
        self.parent_leads: dict[str, str] = {}
        self.documents: dict[str, tuple[str, date | None, str]] = {}
        self.agencies: set[str] = set()
        self.orphans: dict[str, list[str]] = {}  # parent task id -> its children here not knowing its lead

    @classmethod
    async def open(
        cls,
        conn: asyncpg.Connection,
        task_ids: Iterable[str],
        parents: Iterable[str] = (),
        assigned: Iterable[str] = (),
    ) -> TaskBatch:
        """Read and lock these tasks (and the children waiting for one of them as their parent); learn
        the lead of ``parents`` (the parent tasks the batch's TaskAssigned name; ``assigned``: the tasks
        they assign)."""
        batch = cls(conn)
        await conn.execute(LIVE_LOCK)
        task_ids = sorted(set(task_ids))
        parents = sorted(set(parents))
        families = sorted(set(parents) | set(assigned))
        if families:
            # A child and its parent assigned side by side (other partitions, other replicas) would each
            # miss the other, neither committed yet: the child would never learn its parent's lead. Both
            # take the parent's family lock, in one order, so the later one sees the earlier one's rows.
            await conn.execute(FAMILY_LOCK, families)
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS}, t.parent_task_id FROM tasks t
                WHERE t.task_id = ANY($1::text[])
                   OR (t.parent_task_id = ANY($1::text[]) AND t.parent_lead_agency_id IS NULL)
                ORDER BY t.task_id FOR UPDATE""",
            task_ids,
        )
        # Read once the rows are locked, in a statement of its own: a writer we waited for may have
        # changed the history, and the locking statement still sees it as it was before.
        current = (
            dict(
                await conn.fetch(
                    """SELECT task_id, valid_from FROM task_history
                       WHERE task_id = ANY($1::text[]) AND valid_to = 'infinity'""",
                    [r["task_id"] for r in rows],
                )
            )
            if rows
            else {}
        )
        # A delegated task's own events meet its history as if its parent had not moved: read in another
        # order (a replay), they would have come before the parent's cut (flush redoes it).
        trailing = await history_cuts.trailing_cuts(
            conn, await history_cuts.parent_moves(conn, [r["task_id"] for r in rows if r["parent_task_id"]])
        )
        for row in rows:
            values = dict(row)
            parent_task_id = values.pop("parent_task_id")
            state = TaskState(**{**values, "involved": tuple(dict.fromkeys(values["involved"]))})
            task = _Task(state, parent_task_id, stored=True)
            if (run := trailing.get(state.task_id)) is not None:
                current[state.task_id], task.absorbed = run.valid_from, run.absorbed
            if (current_from := current.get(state.task_id)) is not None:
                task.intervals.append(
                    _Interval(current_from, state.bucket, state.counted_due, stored_from=current_from)
                )
            batch._track(task)
        missing = [p for p in parents if p not in batch.tasks]
        if missing:
            batch.parent_leads = dict(
                await conn.fetch("SELECT task_id, lead_agency_id FROM tasks WHERE task_id = ANY($1::text[])", missing)
            )
        return batch

    # The moves handlers make (handlers.py), in memory.

    def load(self, task_id: str) -> TaskState | None:
        task = self.tasks.get(task_id)
        return task.state if task else None

    def insert_task(
        self, task_id: str, event: TaskAssigned, at: datetime, recorded: datetime | None = None
    ) -> TaskState | None:
        """The task's first row from ``at`` (effective: the day its document assigned it), learnt at
        ``recorded`` (None: at ``at``); None when it already exists (a re-sent TaskAssigned)."""
        if task_id in self.tasks:
            return None
        deadline = event.deadline
        bucket = bucket_of(
            withdrawn=False, has_deadline=deadline.kind != "none", completed=False, on_time=None, started=False
        )
        assigned_on = at.astimezone(VN_TZ).date()
        parent_lead = None
        if event.parent_task_id:
            parent = self.tasks.get(event.parent_task_id)
            parent_lead = parent.state.lead_agency_id if parent else self.parent_leads.get(event.parent_task_id)
        document = event.source_document
        self.documents.setdefault(document.number, (document.number, document.issued_on, document.issuer))
        self.agencies.add(event.lead_agency_id)
        state = TaskState(
            task_id=task_id,
            bucket=bucket,
            due=deadline.due,
            lead_agency_id=event.lead_agency_id,
            document=document.number,
            assigned_on=assigned_on,
            key_task=event.key_task,
            secret=event.classification == "mat",
            involved=tuple(
                dict.fromkeys((event.assigning_agency_id, event.lead_agency_id, *event.coordinating_agency_ids))
            ),
            delegated=event.parent_task_id is not None,
            parent_lead=parent_lead,
        )
        task = _Task(state, event.parent_task_id, stored=False, history_changed=True)
        task.row = (
            task_id, event.code, event.title, document.number, event.assigning_agency_id, event.lead_agency_id,
            list(event.coordinating_agency_ids), event.officer_in_charge_id, deadline.kind, deadline.text,
            deadline.due, event.key_task, event.classification, at, assigned_on, event.parent_task_id, bucket,
            recorded or at,
        )  # fmt: skip
        task.intervals.append(_Interval(at, bucket, state.counted_due, changed=True, recorded_from=late(recorded, at)))
        if event.parent_task_id:
            task.columns["parent_lead_agency_id"] = parent_lead
        self._track(task)
        self._adopt_children(task_id, event.lead_agency_id)
        return state

    def _track(self, task: _Task) -> None:
        self.tasks[task.state.task_id] = task
        if task.parent_task_id is not None and task.state.parent_lead is None:
            self.orphans.setdefault(task.parent_task_id, []).append(task.state.task_id)

    def _adopt_children(self, parent_id: str, parent_lead: str) -> None:
        """Children assigned before their parent reached us (another partition) learn the parent's lead now.
        Found through ``orphans``, not by a scan of the batch's tasks: a batch of a replay holds thousands."""
        for child_id in self.orphans.pop(parent_id, ()):
            child = self.tasks[child_id]
            if child.state.parent_lead is None:
                child.state = replace(child.state, parent_lead=parent_lead)
                child.columns["parent_lead_agency_id"] = parent_lead
                child.history_changed = child.adopted = True

    def update_task(self, task_id: str, **columns: object) -> None:
        """Columns that are shown but not counted (percent, completion date, …)."""
        self.tasks[task_id].columns.update(columns)

    def move(
        self,
        before: TaskState,
        at: datetime,
        *,
        bucket: str | None = None,
        due: date | None = None,
        due_changed: bool = False,
        recorded: datetime | None = None,
    ) -> TaskState:
        """Put the task in another bucket and/or deadline from ``at`` on (effective), learnt at ``recorded``
        (None: at ``at``); history and counters follow."""
        after = replace(before, bucket=bucket or before.bucket, due=due if due_changed else before.due)
        if (after.bucket, after.counted_due, after.due) == (before.bucket, before.counted_due, before.due):
            return before
        task = self.tasks[after.task_id]
        task.state = after
        task.columns.update(bucket=after.bucket, due=after.due, updated_at=at)
        if (after.bucket, after.counted_due) != (before.bucket, before.counted_due):
            task.history_changed = True
            current = task.intervals[-1] if task.intervals else None
            if current is not None and at <= current.valid_from:
                # Two changes at the same instant (or a clock that went back): the earlier state never held
                # for any length of time, so the current interval takes the new state in place.
                current.bucket, current.due, current.changed = after.bucket, after.counted_due, True
            else:
                if current is not None:
                    current.valid_to, current.changed = at, True
                    current.recorded_to = late(recorded, at)
                task.intervals.append(
                    _Interval(at, after.bucket, after.counted_due, changed=True, recorded_from=late(recorded, at))
                )
        return after

    # The writes, set-based, in the lock order the module docstring states.

    async def flush(self) -> None:
        conn = self.conn
        changed = sorted(t for t, task in self.tasks.items() if task.history_changed)
        stored_changed = [t for t in changed if self.tasks[t].stored]
        # The changed tasks' history as it stands, for journal_add to take out.
        await snapshot_history(conn, stored_changed)
        if self.documents:
            await conn.executemany(
                """INSERT INTO documents (number, issued_on, issuer) VALUES ($1, $2, $3)
                   ON CONFLICT (number) DO NOTHING""",
                [self.documents[n] for n in sorted(self.documents)],
            )
        if self.agencies:
            await ensure_agencies(conn, sorted(self.agencies))
        new = [self.tasks[t] for t in sorted(self.tasks) if not self.tasks[t].stored]
        if new:
            await conn.executemany(
                """INSERT INTO tasks (task_id, code, title, document, assigning_agency_id, lead_agency_id,
                       coordinating_agency_ids, officer_in_charge_id, deadline_kind, deadline_text, original_due,
                       due, key_task, classification, status, assigned_at, assigned_on, parent_task_id, bucket,
                       updated_at, recorded_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, 'open', $14, $15, $16, $17,
                           $18, $18)
                   ON CONFLICT (task_id) DO NOTHING""",
                [task.row for task in new],
            )
        await self._update_rows(self.tasks[t] for t in sorted(self.tasks))
        await self._write_history([self.tasks[t] for t in changed])
        if delegated := [t for t in changed if self.tasks[t].parent_task_id]:
            # The parents' cuts again (history_cuts.py), before the journal reads the rows.
            await history_cuts.follow(conn, await history_cuts.parent_moves(conn, delegated))
        if changed:
            await journal_since_snapshot(conn, changed)

    async def _update_rows(self, tasks: Iterable[_Task]) -> None:
        # One statement per set of columns (a batch has few: progress, completion, a move…).
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for task in tasks:
            if task.columns:
                names = tuple(sorted(task.columns))
                by_columns.setdefault(names, []).append((task.state.task_id, *(task.columns[n] for n in names)))
        for names, rows in by_columns.items():
            assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
            await self.conn.executemany(f"UPDATE tasks SET {assignments} WHERE task_id = $1", rows)

    async def _write_history(self, tasks: list[_Task]) -> None:
        adopted = [(t.state.task_id, t.state.parent_lead) for t in tasks if t.adopted and t.stored]
        if adopted:
            await self.conn.executemany("UPDATE task_history SET parent_lead = $2 WHERE task_id = $1", adopted)
        if absorbed := [(t.state.task_id, list(t.absorbed)) for t in tasks if t.absorbed]:
            # First: one of them is the current row, and the merged row may become current again.
            await self.conn.executemany(
                "DELETE FROM task_history WHERE task_id = $1 AND valid_from = ANY($2::timestamptz[])", absorbed
            )
        stored = [
            (t.state.task_id, i.stored_from, i.valid_to, i.bucket, i.due, i.recorded_to)
            for t in tasks
            for i in t.intervals
            if i.stored_from is not None and i.changed
        ]
        if stored:
            # Close (or rewrite in place) the stored current rows before the new current rows go in.
            await self.conn.executemany(
                """UPDATE task_history SET valid_to = coalesce($3::timestamptz, 'infinity'), bucket = $4, due = $5,
                       recorded_to = $6
                   WHERE task_id = $1 AND valid_from = $2""",
                stored,
            )
        rows = [_history_row(t.state, i) for t in tasks for i in t.intervals if i.stored_from is None]
        if rows:
            await self.conn.executemany(
                """INSERT INTO task_history (task_id, valid_from, valid_to, bucket, due, lead_agency_id, document,
                       assigned_on, key_task, secret, involved, delegated, parent_lead, recorded_from, recorded_to)
                   VALUES ($1, $2, coalesce($3::timestamptz, 'infinity'), $4, $5, $6, $7, $8, $9, $10, $11, $12,
                           $13, $14, $15)""",
                rows,
            )


def _history_row(state: TaskState, interval: _Interval) -> tuple[Any, ...]:
    return (
        state.task_id,
        interval.valid_from,
        interval.valid_to,  # None: the current row, valid until 'infinity'
        interval.bucket,
        interval.due,
        state.lead_agency_id,
        state.document,
        state.assigned_on,
        state.key_task,
        state.secret,
        list(state.involved),
        state.delegated,
        state.parent_lead,
        interval.recorded_from,
        interval.recorded_to,
    )


async def snapshot_history(conn: asyncpg.Connection, task_ids: list[str]) -> None:
    """These tasks' history rows as they stand, for ``journal_since_snapshot`` to take out; emptied first,
    should a transaction take two snapshots."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS history_before (LIKE task_history) ON COMMIT DELETE ROWS;"
        " DELETE FROM history_before"
    )
    if task_ids:
        # Nothing to take out while a rebuild defers the journal (migrations/006).
        await conn.execute(
            """INSERT INTO history_before SELECT * FROM task_history
               WHERE task_id = ANY($1::text[]) AND NOT journal_deferred()""",
            task_ids,
        )


async def journal_since_snapshot(conn: asyncpg.Connection, task_ids: list[str]) -> None:
    """The journal and live follow: the snapshot's rows out, these tasks' rows now in (migrations/003
    ``journal_add``)."""
    # Its arguments are not even built while a rebuild defers the journal (migrations/006).
    await conn.execute(
        """SELECT journal_add(
               array(SELECT h FROM task_history h WHERE h.task_id = ANY($1::text[])),
               array(SELECT ROW(b.*)::task_history FROM history_before b))
           WHERE NOT journal_deferred()""",
        task_ids,
    )


def late(recorded: datetime | None, at: datetime) -> datetime | None:
    """The recorded time to store: None when it is the effective time (a fact recorded as it happened)."""
    return recorded if recorded is not None and recorded != at else None


async def ensure_agencies(conn: asyncpg.Connection, agency_ids: list[str]) -> None:
    """Agencies seen as a lead before the directory named them: roots of their own until it does."""
    inserted = await conn.fetch(
        """INSERT INTO agencies (agency_id, name, short_name, known)
           SELECT a, a, a, false FROM unnest($1::text[]) AS a ORDER BY a
           ON CONFLICT (agency_id) DO NOTHING RETURNING agency_id""",
        agency_ids,
    )
    if inserted:
        await conn.execute(
            "INSERT INTO agency_tree SELECT a, a, 0 FROM unnest($1::text[]) AS a ON CONFLICT DO NOTHING",
            [r["agency_id"] for r in inserted],
        )


async def journal(conn: asyncpg.Connection, task_ids: list[str] | None, sign: int, *, tree_only: bool = False) -> None:
    """Add (+1) or take out (-1) these tasks' history in the journal and live (None: every task); ``tree_only``:
    only the rows the agency tree decides (a move of the tree takes out and puts back the same history, so the
    others would come back as they were; migrations/007)."""
    await conn.execute("SELECT journal_apply($1::text[], $2, $3)", task_ids, sign, tree_only)
