"""An import on a terminal: a progress bar while rows are assigned, then one table of every row.

Shared by `dondoc import` and `dondoc up --demo`, so both show the same thing: what was imported,
what already was (a re-run), and what was not, with the reason in Vietnamese.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from events.clock import Clock
from services.assignment.directory import adapters
from services.assignment.errors import Rejected
from services.assignment.importing.plan import ImportOptions
from services.assignment.importing.runner import ImportReport, RowOutcome, import_file
from services.assignment.importing.table import TableError

STATUS_VI = {
    "imported": "[green]Đã nhập[/]",
    "unchanged": "[blue]Đã có[/]",
    "not-imported": "[red]Không nhập[/]",
    "planned": "[cyan]Sẽ nhập[/]",
}


async def run_import(
    pool: asyncpg.Pool,
    clock: Clock,
    file: Path,
    options: ImportOptions,
    *,
    console: Console,
    progress_console: Console,
    dry_run: bool = False,
) -> ImportReport:
    assigner = (await adapters.agencies(pool, [options.assigned_by])).get(options.assigned_by)
    if assigner is None:
        raise Rejected(
            "unknown-agency",
            f"{options.assigned_by!r} is not in the directory",
            f"Cơ quan giao {options.assigned_by!r} không có trong danh bạ (dondoc directory load)",
        )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=progress_console, transient=True
    ) as progress:
        bar = progress.add_task(f"Nhập {file.name}", total=None)

        def advance(outcome: RowOutcome) -> None:
            progress.update(bar, advance=1, description=f"Nhập dòng STT {outcome.stt}")

        try:
            report = await import_file(
                pool,
                clock,
                file,
                options.with_issuer(assigner.name),
                dry_run=dry_run,
                on_start=lambda n: progress.update(bar, total=n),
                on_row=advance,
            )
        except TableError as exc:
            raise Rejected("table-unreadable", str(exc), f"Không đọc được bảng nhiệm vụ: {exc}") from exc
    console.print(report_table(report, file.name))
    return report


def report_table(report: ImportReport, name: str) -> Table:
    table = Table("STT", "Tên nhiệm vụ", "Chủ trì", "Thời hạn", "Kết quả", "Nhiệm vụ / lý do", title=f"Nhập {name}")
    for o in report.outcomes:
        table.add_row(
            o.stt,
            (o.title[:57] + "…") if len(o.title) > 58 else o.title,
            _leads(o),
            o.deadline,
            STATUS_VI.get(o.status, o.status),
            _detail(o),
        )
    skipped = ", ".join(f"{n} {kind}" for kind, n in report.table.skipped.items())
    table.caption = (
        f"{len(report.outcomes)} dòng: {report.count('imported')} đã nhập "
        f"({report.tasks_made} nhiệm vụ mới), {report.count('unchanged')} đã có, "
        f"{report.count('not-imported')} không nhập. Bỏ qua: {skipped or 'không'}."
    )
    if report.total_mismatch:
        table.caption += (
            f" [red]Bảng ghi 'Tổng cộng: {report.table.declared_total}' nhưng đọc được "
            f"{len(report.table.rows)} nhiệm vụ.[/]"
        )
    return table


def _leads(o: RowOutcome) -> str:
    if len(o.lead_agency_ids) == 1:
        return o.lead_agency_ids[0]
    return f"{len(o.lead_agency_ids)} cơ quan" if o.lead_agency_ids else o.lead_text


def _detail(o: RowOutcome) -> str:
    if o.status == "not-imported":
        return o.reason_vi
    return o.codes[0] if len(o.codes) == 1 else f"{o.codes[0]} … {o.codes[-1]}" if o.codes else ""
