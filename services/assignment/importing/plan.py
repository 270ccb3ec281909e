"""From task rows to AssignTask commands, against the directory. Pure, no I/O.

* Agencies are matched by name (services/assignment/names.py); a cell with a name the directory does
  not know, or that names two bodies, makes the row "not imported" with the names at fault.
* One task, one lead (the Government's working rules): a lead cell naming several agencies, or a group
  of kind 'all' ("Các sở, ban, ngành thuộc tỉnh"), becomes one task per lead agency, sharing the row's
  number with a letter: 8a, 8b, …; its identity (idempotency key) is the row number and the lead's id,
  so a re-run, even after the directory grew, recognises every task already made.
* A '… liên quan' group names no one in particular: as coordinating it is kept as a group, as lead it
  is refused (a lead must be named).
* Deadlines and authority are checked here too (so ``--dry-run`` shows them), and again by the handler.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from events.deadlines import DeadlineParseError, parse_deadline_or_date
from events.tasks import Classification, SourceDocument
from services.assignment.directory.tree import Directory
from services.assignment.importing.table import RowProblem, TaskRow
from services.assignment.names import Mention, display
from services.assignment.tasks.commands import AssignTask
from services.assignment.tasks.rules import may_assign


@dataclass(frozen=True)
class ImportOptions:
    document: SourceDocument  # e.g. 131/NQ-CP: what the tasks implement, and what reports group by
    assigned_by: str
    letter: SourceDocument | None = None  # e.g. 6958/UBND-KSTT: the letter the table is attached to
    code_prefix: str = ""  # defaults to "<document>/<ASSIGNER>": 131/NQ-CP/UBND-BD#13
    classification: Classification = "cong-khai"
    key_task: bool = False

    @property
    def prefix(self) -> str:
        return self.code_prefix or f"{self.document.number}/{self.assigned_by.upper()}"

    def with_issuer(self, name: str) -> ImportOptions:
        """Documents whose issuer was left blank are the assigning agency's (its letter, its list)."""
        document, letter = self.document, self.letter
        if not document.issuer:
            document = document.model_copy(update={"issuer": name})
        if letter is not None and not letter.issuer:
            letter = letter.model_copy(update={"issuer": name})
        return replace(self, document=document, letter=letter)

    @property
    def issued(self) -> SourceDocument:
        return self.letter or self.document


@dataclass(frozen=True)
class PlannedRow:
    row: TaskRow
    commands: tuple[AssignTask, ...] = ()
    problem: RowProblem | None = None


def plan_rows(rows: list[TaskRow], directory: Directory, options: ImportOptions) -> list[PlannedRow]:
    return [plan_row(row, directory, options) for row in rows]


def plan_row(row: TaskRow, directory: Directory, options: ImportOptions) -> PlannedRow:
    def refuse(code: str, vi: str, en: str) -> PlannedRow:
        return PlannedRow(row, problem=RowProblem(row.line, row.stt, code, vi, en))

    leads_m, coordinating_m = directory.names.mentions(row.lead), directory.names.mentions(row.coordinating)
    if unknown := [m for m in (*leads_m, *coordinating_m) if len(m.found) != 1]:
        return refuse(
            "agency-unmatched",
            "Không khớp danh bạ: " + "; ".join(_describe(m) for m in unknown),
            "not matched in the directory: " + "; ".join(repr(m.text) for m in unknown),
        )
    if not leads_m:
        return refuse("lead-missing", "Thiếu cơ quan chủ trì", "no lead agency")
    if related := [m.text for m in leads_m if _kind(directory, m) == "related"]:
        return refuse(
            "lead-is-related-group",
            f"Cơ quan chủ trì phải được nêu tên, không thể là {related[0]!r}",
            f"a lead must be named, not {related[0]!r}",
        )
    leads = _agencies(directory, leads_m)
    coordinating = _agencies(directory, coordinating_m)
    groups = tuple(dict.fromkeys(next(iter(m.found)).ident for m in coordinating_m if _kind(directory, m) == "related"))
    try:
        parse_deadline_or_date(display(row.deadline), options.issued.issued_on)
    except DeadlineParseError as exc:
        return refuse("deadline-unreadable", f"Thời hạn {row.deadline!r}: {exc.message_vi}", str(exc))
    if outside := [a for a in (*leads, *coordinating) if not _may_assign(directory, options.assigned_by, a)]:
        names = ", ".join(directory.agencies[a].name for a in outside)
        return refuse(
            "out-of-authority",
            f"Ngoài thẩm quyền giao của {options.assigned_by}: {names}",
            f"outside {options.assigned_by}'s authority: {', '.join(outside)}",
        )
    commands = tuple(
        _command(row, options, lead, suffix, [c for c in coordinating if c != lead], groups)
        for lead, suffix in zip(leads, _suffixes(len(leads)), strict=True)
    )
    return PlannedRow(row, commands)


def _kind(directory: Directory, mention: Mention) -> str:
    named = next(iter(mention.found))
    return "agency" if named.kind == "agency" else directory.groups[named.ident].kind


def _agencies(directory: Directory, mentions: list[Mention]) -> list[str]:
    """The agencies named, with the members of every 'all' group, in order, once each."""
    ids: list[str] = []
    for mention in mentions:
        named = next(iter(mention.found))
        if named.kind == "agency":
            ids.append(named.ident)
        elif directory.groups[named.ident].kind == "all":
            ids += directory.members(named.ident)
    return list(dict.fromkeys(ids))


def _may_assign(directory: Directory, assigner: str, target: str) -> bool:
    edges = directory.agencies[assigner].can_assign_to if assigner in directory.agencies else ()
    return may_assign(assigner, directory.chain(target), edges)


def _describe(mention: Mention) -> str:
    if len(mention.found) > 1:
        return f"{mention.text!r} chỉ nhiều cơ quan ({', '.join(sorted(n.ident for n in mention.found))})"
    hint = f" (có phải {', '.join(mention.suggestions)}?)" if mention.suggestions else ""
    return f"{mention.text!r}{hint}"


def _suffixes(count: int) -> list[str]:
    """'' for a single lead; a, b, …, z, aa, ab, … when a row is split."""
    if count == 1:
        return [""]
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(count)]


def _command(
    row: TaskRow, options: ImportOptions, lead: str, suffix: str, coordinating: list[str], groups: tuple[str, ...]
) -> AssignTask:
    code = f"{options.prefix}#{row.stt}{suffix}"
    return AssignTask(
        title=display(row.title),
        description=row.section,
        expected_product=row.product.strip(),
        source_document=options.document,
        assigning_document=options.letter,
        # Without a letter the table is the plan itself: it assigns on its own date (with one, the letter's).
        assigned_on=None if options.letter else options.document.issued_on,
        assigning_agency_id=options.assigned_by,
        lead_agency_id=lead,
        coordinating_agency_ids=tuple(coordinating),
        coordinating_group_ids=groups,
        deadline=display(row.deadline),
        key_task=options.key_task,
        classification=options.classification,
        code=code,
        idempotency_key=code if not suffix else f"{options.prefix}#{row.stt}@{lead}",
    )
