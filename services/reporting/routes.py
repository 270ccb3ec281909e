"""HTTP entrypoints of the reporting service: the summary and what the dashboard needs."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from events.clock import VN_TZ
from services.reporting import catalog, summary
from services.reporting.catalog import TreeNode
from services.reporting.queries import Filters
from services.reporting.responses import (
    AgencyTree,
    DelegationTree,
    Documents,
    FoundTasks,
    HiddenNode,
    PublishedReport,
    PublishedReports,
    ReportBody,
    Trend,
    json_response,
)
from services.runtime.access import involved, may_see
from services.runtime.auth import Viewer
from services.runtime.refusals import not_found
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

AgencyQ = Annotated[str | None, Query(description="Agency: its tasks and its whole subtree's (lead agency)")]
LeadOnlyQ = Annotated[bool, Query(description="Only the tasks the agency itself leads, not its subtree's")]
DocumentQ = Annotated[str | None, Query(description="Source document number, e.g. 131/NQ-CP")]
FromQ = Annotated[date | None, Query(alias="from", description="Period: assigned on or after (YYYY-MM-DD)")]
ToQ = Annotated[date | None, Query(alias="to", description="Period: assigned on or before (YYYY-MM-DD)")]
AsRecordedQ = Annotated[
    bool,
    Query(
        description="Read recorded time instead of effective time: the figures as dondoc showed them at as_of, "
        "with only the facts it had learnt by then (for audit). Default: as the documents date the facts"
    ),
]
AsOfQ = Annotated[
    str | None,
    Query(
        description="Figures as they stood then: YYYY-MM-DD (end of that day, Asia/Ho_Chi_Minh) or an RFC 3339 instant"
    ),
]


def _bad(code: str, message: str, message_vi: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": code, "message": message, "message_vi": message_vi}
    )


EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)
"""The days a report may name. A period is compared with the one before it, as long, so a period from year
587 (found by fuzzing), or 1900 to 9999, would reach before year 1, where dates end; dondoc's documents are
of 1945 on."""


def _not_before_earliest(name: str, name_vi: str, day: date) -> None:
    if day < EARLIEST:
        raise _bad(
            "date-too-early",
            f"{name} {day.isoformat()} is before {EARLIEST.isoformat()}: reports begin on that day",
            f"{name_vi} {day:%d/%m/%Y} trước ngày {EARLIEST:%d/%m/%Y}: báo cáo chỉ tính từ ngày đó",
        )
    if day > LATEST:
        raise _bad(
            "date-too-late",
            f"{name} {day.isoformat()} is after {LATEST.isoformat()}: reports end on that day",
            f"{name_vi} {day:%d/%m/%Y} sau ngày {LATEST:%d/%m/%Y}: báo cáo chỉ tính đến ngày đó",
        )


def parse_as_of(text: str) -> datetime:
    if _DATE.match(text):
        return summary.end_of_day(date.fromisoformat(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(
            "as-of-unreadable",
            f"as_of {text!r} is neither YYYY-MM-DD nor an RFC 3339 instant",
            f"Thời điểm {text!r} không hợp lệ (dùng YYYY-MM-DD)",
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


def moment_of(now: datetime, as_of: str | None, end: date | None) -> tuple[datetime, bool]:
    """The moment the figures stand at, and whether it is "now" (live)."""
    if as_of:
        moment = parse_as_of(as_of)
        _not_before_earliest("as_of", "Thời điểm", moment.date())  # its own offset: nothing to overflow
        return moment, False
    if end is not None and summary.end_of_day(end) < now:
        return summary.end_of_day(end), False
    return now, True


def filters_of(
    agency_id: str | None,
    lead_only: bool,
    document: str | None,
    start: date | None,
    end: date | None,
    viewer: str | None,
    as_recorded: bool = False,
) -> Filters:
    for day, name, name_vi in ((start, "from", "Ngày bắt đầu"), (end, "to", "Ngày kết thúc")):
        if day is not None:
            _not_before_earliest(name, name_vi, day)
    if start and end and start > end:
        raise _bad("period-reversed", f"from {start} is after to {end}", "Ngày bắt đầu sau ngày kết thúc kỳ")
    if lead_only and not agency_id:
        raise _bad("lead-only-needs-agency", "lead_only needs agency_id", "Chọn cơ quan để xem nhiệm vụ chủ trì")
    return Filters(
        agency_id=agency_id or None,
        lead_only=lead_only,
        document=document or None,
        start=start,
        end=end,
        viewer=viewer,
        as_recorded=as_recorded,
    )


@router.get("/summary", response_model=ReportBody)
async def get_summary(
    request: Request,
    viewer: Viewer,
    agency_id: AgencyQ = None,
    lead_only: LeadOnlyQ = False,
    document: DocumentQ = None,
    start: FromQ = None,
    end: ToQ = None,
    as_of: AsOfQ = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Overdue tasks listed at most")] = 50,
    as_recorded: AsRecordedQ = False,
) -> Response:
    """Số liệu tổng hợp theo các tiêu chí của Tổ công tác: categories, overdue share and its change,
    key tasks, per agency, per document, overdue ageing and the overdue list."""
    return json_response(
        await report_body(request, viewer, agency_id, lead_only, document, start, end, as_of, limit, as_recorded)
    )


async def report_body(
    request: Request,
    viewer: str | None,
    agency_id: str | None,
    lead_only: bool,
    document: str | None,
    start: date | None,
    end: date | None,
    as_of: str | None,
    limit: int,
    as_recorded: bool,
) -> ReportBody:
    """The summary every format of it is written from (JSON, DOCX): the same figures, the same access."""
    rt = runtime_of(request)
    at, live = moment_of(rt.clock.now(), as_of, end)
    f = filters_of(agency_id, lead_only, document, start, end, viewer, as_recorded)
    async with rt.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot for every part, so the breakdowns add up to the totals beside them.
        return await summary.build(conn, summary.Request(f, at, live, limit))


@router.get("/summary.docx", response_class=Response)
async def get_summary_docx(
    request: Request,
    viewer: Viewer,
    agency_id: AgencyQ = None,
    lead_only: LeadOnlyQ = False,
    document: DocumentQ = None,
    start: FromQ = None,
    end: ToQ = None,
    as_of: AsOfQ = None,
    as_recorded: AsRecordedQ = False,
) -> Response:
    """The summary as a Word report in the format of Nghị định 30/2020/NĐ-CP (the dashboard's export):
    the same figures, the same access, as GET /summary."""
    from services.reporting.docx_report import to_docx

    # The JSON route's own body, so the docx can never show more, or other, figures than /summary would.
    body = await report_body(request, viewer, agency_id, lead_only, document, start, end, as_of, 1000, as_recorded)
    return Response(
        to_docx(body),
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f'attachment; filename="bao-cao-{body.date}.docx"'},
    )


@router.get("/trend", response_model=Trend)
async def get_trend(
    request: Request,
    viewer: Viewer,
    agency_id: AgencyQ = None,
    lead_only: LeadOnlyQ = False,
    document: DocumentQ = None,
    as_of: AsOfQ = None,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
    as_recorded: AsRecordedQ = False,
) -> Response:
    """Lũy kế theo tháng: the cumulative figures at the end of each month."""
    rt = runtime_of(request)
    at, _ = moment_of(rt.clock.now(), as_of, None)
    f = filters_of(agency_id, lead_only, document, None, None, viewer, as_recorded)
    async with rt.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return json_response(Trend(as_of=at.isoformat(), points=await summary.trend(conn, f, at, months)))


@router.get("/agencies", response_model=AgencyTree)
async def get_agencies(request: Request) -> Response:
    """The agency tree as the reporting service knows it from dondoc.directory (for filters)."""
    async with runtime_of(request).pool.acquire() as conn:
        return json_response(AgencyTree(agencies=await catalog.tree(conn)))


@router.get("/documents", response_model=Documents)
async def get_documents(request: Request, viewer: Viewer) -> Response:
    async with runtime_of(request).pool.acquire() as conn:
        return json_response(Documents(documents=await catalog.documents(conn, viewer)))


@router.get("/tasks", response_model=FoundTasks)
async def search_tasks(
    request: Request,
    viewer: Viewer,
    q: Annotated[str, Query(min_length=1, description="Part of a code or title")],
) -> Response:
    async with runtime_of(request).pool.acquire() as conn:
        return json_response(FoundTasks(tasks=await catalog.find_tasks(conn, q, viewer)))


@router.get("/tasks/{task_id}/tree", response_model=DelegationTree)
async def get_delegation_tree(task_id: str, request: Request, viewer: Viewer) -> Response:
    """Cây giao việc: the task's chain of delegation, from the topmost task down. A secret task the viewer is
    not involved in keeps its place but shows no id, code, title or agency (runtime/access.py); asked for
    by its own id, it answers as a task that does not exist."""
    async with runtime_of(request).pool.acquire() as conn:
        nodes = await catalog.delegation_tree(conn, task_id)
    shown = {n.task_id: _seen(n, viewer) for n in nodes}
    if not nodes or not shown.get(task_id):
        raise not_found("task", "nhiệm vụ", task_id, "task-not-found")
    # A hidden node's id is replaced by a label that is only its place in this answer, in its own node and
    # in its children's parent_task_id, so the tree still hangs together.
    labels = {n.task_id: f"hidden-{i}" for i, n in enumerate(nodes) if not shown[n.task_id]}
    return json_response(DelegationTree(task_id=task_id, nodes=[_shown(n, shown[n.task_id], labels) for n in nodes]))


def _seen(node: TreeNode, viewer: str | None) -> bool:
    parties = involved(node.assigning_agency_id, node.lead_agency_id, node.coordinating_agency_ids)
    return may_see(node.classification, parties, viewer)


def _shown(node: TreeNode, seen: bool, labels: dict[str, str]) -> TreeNode | HiddenNode:
    parent = node.parent_task_id
    parent_label = labels.get(parent, parent) if parent is not None else None
    if seen:
        return replace(node, parent_task_id=parent_label)
    return HiddenNode(depth=node.depth, task_id=labels[node.task_id], parent_task_id=parent_label)


@router.get("/monthly", response_model=PublishedReports)
async def get_monthly(request: Request) -> Response:
    """The monthly reports published on dondoc.report-events."""
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch("SELECT month, event_id, published_at FROM published_reports ORDER BY month DESC")
    return json_response(
        PublishedReports(
            reports=[
                PublishedReport(month=r["month"], event_id=str(r["event_id"]), published_at=r["published_at"])
                for r in rows
            ]
        )
    )
