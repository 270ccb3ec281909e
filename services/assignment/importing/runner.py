"""Importing a task list: read, plan against the directory, assign row by row, report every row.

Each row is one transaction: the tasks it splits into are all made, or none is (a row is never
half imported). Re-running the same file makes nothing new: each task's idempotency key comes from
the document, the row number and the lead, and the handler returns the task it already made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg

from events.clock import Clock
from services.assignment.directory import adapters as directory_adapters
from services.assignment.errors import Rejected
from services.assignment.importing.plan import ImportOptions, PlannedRow, plan_rows
from services.assignment.importing.table import RowProblem, Table, TaskRow, read_file
from services.assignment.provision import unit_of_work
from services.assignment.tasks.assign import assign_task

Status = str  # imported (tasks made), unchanged (made by an earlier run), not-imported, planned (dry run)


@dataclass(frozen=True)
class RowOutcome:
    line: int
    stt: str
    title: str
    status: Status
    codes: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    lead_agency_ids: tuple[str, ...] = ()
    deadline: str = ""
    lead_text: str = ""  # the cell as written, for rows that were not imported
    reason_code: str = ""
    reason_vi: str = ""


@dataclass
class ImportReport:
    outcomes: list[RowOutcome] = field(default_factory=list)
    table: Table = field(default_factory=Table)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def tasks_made(self) -> int:
        return sum(len(o.task_ids) for o in self.outcomes if o.status == "imported")

    @property
    def complete(self) -> bool:
        return all(o.status != "not-imported" for o in self.outcomes)

    @property
    def total_mismatch(self) -> bool:
        declared = self.table.declared_total
        return declared is not None and declared != len(self.table.rows)


def _refused(problem: RowProblem, row: TaskRow | None = None) -> RowOutcome:
    return RowOutcome(
        problem.line,
        problem.stt,
        row.title if row else "",
        "not-imported",
        deadline=row.deadline if row else "",
        lead_text=row.lead if row else "",
        reason_code=problem.code,
        reason_vi=problem.message_vi,
    )


async def import_file(
    pool: asyncpg.Pool,
    clock: Clock,
    path: Path,
    options: ImportOptions,
    *,
    dry_run: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> ImportReport:
    table = read_file(path)
    directory = await directory_adapters.load(pool)
    if options.assigned_by not in directory.agencies:
        raise Rejected(
            "unknown-agency",
            f"{options.assigned_by!r} is not in the directory",
            f"Cơ quan giao {options.assigned_by!r} không có trong danh bạ",
        )
    report = ImportReport(table=table)
    planned = plan_rows(table.rows, directory, options)
    if on_start:
        on_start(len(planned) + len(table.problems))
    for problem in table.problems:
        report.outcomes.append(outcome := _refused(problem))
        if on_row:
            on_row(outcome)
    for row in planned:
        outcome = await _run_row(pool, clock, row, dry_run)
        report.outcomes.append(outcome)
        if on_row:
            on_row(outcome)
    report.outcomes.sort(key=lambda o: o.line)
    return report


async def _run_row(pool: asyncpg.Pool, clock: Clock, planned: PlannedRow, dry_run: bool) -> RowOutcome:
    row = planned.row
    if planned.problem is not None:
        return _refused(planned.problem, row)
    commands = planned.commands
    base = RowOutcome(
        row.line,
        row.stt,
        row.title,
        "planned",
        codes=tuple(c.code or "" for c in commands),
        lead_agency_ids=tuple(c.lead_agency_id for c in commands),
        deadline=row.deadline,
    )
    if dry_run:
        return base
    try:
        async with unit_of_work(pool, clock) as uow:
            results = [await assign_task(command, uow) for command in planned.commands]
    except Rejected as exc:
        return replace(base, status="not-imported", lead_text=row.lead, reason_code=exc.code, reason_vi=exc.message_vi)
    status = "imported" if any(r.created for r in results) else "unchanged"
    return replace(base, status=status, task_ids=tuple(r.task_id for r in results))
