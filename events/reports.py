"""Events of reports (produced by the reporting service), on ``dondoc.report-events`` keyed by report id.

A ReportPublished is the month's figures as they stood at the end of the month, for the whole tree,
without secret (mật) tasks: a published report is public by nature (DESIGN §4 "Secrecy": never published).
Its event id is derived from the month, so a restart or a second replica publishes it once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from events.envelope import EventPayload, WireModel
from events.limits import Id, LongText, Name
from events.topics import REPORT_EVENTS


class ReportFigures(WireModel):
    """The working group's categories (DESIGN §4), counts of tasks."""

    assigned: int = Field(ge=0, description="Nhiệm vụ được giao (with a fixed deadline, not withdrawn)")
    completed_on_time: int = Field(ge=0, description="Đã hoàn thành đúng hạn")
    completed_late: int = Field(ge=0, description="Đã hoàn thành quá hạn")
    unfinished_within_deadline: int = Field(ge=0, description="Đang thực hiện trong hạn")
    unfinished_overdue: int = Field(ge=0, description="Quá hạn chưa hoàn thành")
    no_fixed_deadline: int = Field(ge=0, description="Không có thời hạn cụ thể, counted apart")
    withdrawn: int = Field(ge=0, description="Đã rút, counted apart")


CATEGORIES: tuple[str, ...] = tuple(ReportFigures.model_fields)
"""The working group's report categories, in their order: the one list every report, export and test reads."""


class ReportPublished(EventPayload):
    event_type = "ReportPublished"
    topic = REPORT_EVENTS
    report_id: Id = Field(description="e.g. monthly-2021-02: one report per month")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="The month reported, YYYY-MM")
    period_start: date
    period_end: date
    as_of: datetime = Field(description="The moment the figures stand at: the end of the month")
    scope: Name = Field(description="Whose tasks: the whole tree ('toàn hệ thống')")
    figures: ReportFigures
    key_tasks: ReportFigures = Field(description="The same for key tasks (nhiệm vụ trọng tâm)")
    overdue_share_percent: float = Field(description="unfinished_overdue / assigned × 100, one decimal")
    overdue_share_base: int = Field(ge=0, description="The base of the share: the assigned count")
    previous_overdue_share_percent: float | None = Field(
        None, description="The share a month earlier, for the change 'so với tháng trước'"
    )
    assigned_in_month: int = Field(ge=0, description="Tasks assigned during the month")
    summary_vi: LongText = Field(description="The working group's paragraph, in Vietnamese")
