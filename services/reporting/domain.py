"""The working group's report categories (DESIGN §4), unchanged from 2016 to 2025. Pure: no I/O.

A task's state is stored as a *bucket* that does not depend on the clock (new, started, on_time,
late, …) plus its deadline in force. Whether an unfinished task is within its deadline or overdue,
and for how long, follows from the day a report is about: ``state_of`` (and its SQL twin
``state_at`` in migrations/002) maps a bucket and a deadline to one of the ``STATES`` on that day.
The read models count tasks per state; ``figures_from`` turns such a tally into the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, computed_field

from events.reports import CATEGORIES
from services.reporting.vietnamese import vn_number

Bucket = Literal["new", "started", "on_time", "late", "nodl_open", "nodl_done", "withdrawn"]
OPEN_BUCKETS: frozenset[str] = frozenset({"new", "started"})

LABELS_VI = {
    "assigned": "Nhiệm vụ được giao",
    "completed": "Đã hoàn thành",
    "completed_on_time": "Hoàn thành đúng hạn",
    "completed_late": "Hoàn thành quá hạn",
    "unfinished_within_deadline": "Đang thực hiện trong hạn",
    "not_started": "Chưa triển khai",
    "unfinished_overdue": "Quá hạn chưa hoàn thành",
    "no_fixed_deadline": "Không có thời hạn cụ thể",
    "withdrawn": "Đã rút khỏi danh mục",
    "overdue_share": "Tỷ lệ quá hạn",
}

# The colours Vietnamese trackers use (DESIGN §4); the dashboard and the XLSX export share them.
COLOURS = {
    "completed_on_time": "#2e7d32",  # green: done on time
    "completed_late": "#ef6c00",  # orange: done late
    "in_progress": "#1565c0",  # blue: within deadline
    "unfinished_overdue": "#c62828",  # red: overdue
    "not_started": "#9e9e9e",  # grey: not started
}


def bucket_of(*, withdrawn: bool, has_deadline: bool, completed: bool, on_time: bool | None, started: bool) -> Bucket:
    """The clock-free state of a task. A completion without a verdict (no deadline) is on time."""
    if withdrawn:
        return "withdrawn"
    if not has_deadline:
        return "nodl_done" if completed else "nodl_open"
    if completed:
        return "late" if on_time is False else "on_time"
    return "started" if started else "new"


@dataclass(frozen=True)
class BucketCount:
    """A number of tasks in one bucket with one deadline in force (None for closed buckets)."""

    bucket: str
    due: date | None
    key_task: bool
    n: int


class Figures(BaseModel):
    assigned: int = 0
    completed_on_time: int = 0
    completed_late: int = 0
    unfinished_within_deadline: int = 0
    not_started: int = 0
    unfinished_overdue: int = 0
    no_fixed_deadline: int = 0
    withdrawn: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> int:
        return self.completed_on_time + self.completed_late

    @computed_field  # type: ignore[prop-decorator]
    @property
    def in_progress(self) -> int:
        """Within deadline and started: the tracker's blue."""
        return self.unfinished_within_deadline - self.not_started

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue_share(self) -> OverdueShare:
        return OverdueShare.of(self.unfinished_overdue, self.assigned)


class OverdueShare(BaseModel):
    """Unfinished overdue / assigned, one decimal, with its base stated (DESIGN §4).

    The decimal is cut, not rounded, as the working group prints it: 343 of 10.527 is 3,258…% and
    their report says "chiếm 3,2%" (seed 004).
    """

    percent: float
    text: str
    numerator: str = "unfinished_overdue"
    base: str = "assigned"
    base_count: int

    @classmethod
    def of(cls, overdue: int, assigned: int) -> OverdueShare:
        percent = (1000 * overdue // assigned) / 10 if assigned else 0.0  # integers: no float drift
        return cls(percent=percent, text=f"{vn_number(percent, 1)}%", base_count=assigned)


def categorise(bucket: str, due: date | None, today: date) -> str:
    """The category of one bucket on ``today``: a task due today is within its deadline until the day ends."""
    if bucket in OPEN_BUCKETS:
        assert due is not None, "an open task with a deadline has a due date"
        return "unfinished_within_deadline" if due >= today else "unfinished_overdue"
    return {
        "on_time": "completed_on_time",
        "late": "completed_late",
        "nodl_open": "no_fixed_deadline",
        "nodl_done": "no_fixed_deadline",
        "withdrawn": "withdrawn",
    }[bucket]


def figures_of(rows: Iterable[BucketCount], today: date, *, key_only: bool = False) -> Figures:
    counts = dict.fromkeys(Figures.model_fields, 0)
    for row in rows:
        if key_only and not row.key_task:
            continue
        category = categorise(row.bucket, row.due, today)
        counts[category] += row.n
        if category.startswith(("completed", "unfinished")):
            counts["assigned"] += row.n
        if row.bucket == "new" and category == "unfinished_within_deadline":
            counts["not_started"] += row.n
    return Figures(**counts)


# The states a task is in on a given day: an unfinished task within its deadline (not started or
# started), overdue by 1–30, 31–90, 91–120 or more than 120 days, or a closed bucket. Their order is
# the order of the counter columns (migrations/002, queries/day_sums.py).
STATES: tuple[str, ...] = (
    "new_within",
    "started_within",
    "overdue_1_30",
    "overdue_31_90",
    "overdue_91_120",
    "overdue_over_120",
    "on_time",
    "late",
    "nodl_open",
    "nodl_done",
    "withdrawn",
)
_CLOSED_STATE = {"on_time": 6, "late": 7, "nodl_open": 8, "nodl_done": 9, "withdrawn": 10}


def state_of(bucket: str, due: date | None, day: date) -> int:
    """The state (index in ``STATES``) of a task in ``bucket`` with deadline ``due`` on ``day``.

    A task due today is within its deadline until the day ends; overdue by N days on the N-th day after.
    """
    if bucket in OPEN_BUCKETS:
        if due is None or due >= day:
            return 0 if bucket == "new" else 1
        days = (day - due).days
        return 2 if days <= 30 else 3 if days <= 90 else 4 if days <= 120 else 5
    return _CLOSED_STATE[bucket]


def empty_tally() -> list[int]:
    return [0] * len(STATES)


def figures_from(tally: Sequence[int]) -> Figures:
    """The figures of a number of tasks per state (``STATES`` order)."""
    (new_within, started_within, ov1, ov2, ov3, ov4, on_time, late, nodl_open, nodl_done, withdrawn) = tally
    overdue = ov1 + ov2 + ov3 + ov4
    return Figures(
        assigned=new_within + started_within + overdue + on_time + late,
        completed_on_time=on_time,
        completed_late=late,
        unfinished_within_deadline=new_within + started_within,
        not_started=new_within,
        unfinished_overdue=overdue,
        no_fixed_deadline=nodl_open + nodl_done,
        withdrawn=withdrawn,
    )


AGEING_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (1, 30, "Đến 30 ngày"),
    (31, 90, "Từ 31 đến 90 ngày"),
    (91, 120, "Từ 91 đến 120 ngày"),
    (121, None, "Trên 120 ngày"),
)


class AgeingBand(BaseModel):
    band: str
    min_days: int
    max_days: int | None
    label_vi: str
    count: int


def ageing_of(rows: Iterable[BucketCount], today: date) -> list[AgeingBand]:
    """How long unfinished tasks have been overdue: days past the deadline in force (≤ 30, 31–90, …)."""
    counts = [0] * len(AGEING_BANDS)
    for row in rows:
        if row.bucket in OPEN_BUCKETS and row.due is not None and row.due < today:
            days = (today - row.due).days
            for i, (low, high, _) in enumerate(AGEING_BANDS):
                if days >= low and (high is None or days <= high):
                    counts[i] += row.n
                    break
    return _bands(counts)


def ageing_from(tally: Sequence[int]) -> list[AgeingBand]:
    """The ageing bands of a tally: its four overdue states."""
    return _bands(list(tally[2:6]))


def _bands(counts: list[int]) -> list[AgeingBand]:
    return [
        AgeingBand(
            band=f"{low}-{high}" if high else f">{low - 1}",
            min_days=low,
            max_days=high,
            label_vi=label,
            count=count,
        )
        for (low, high, label), count in zip(AGEING_BANDS, counts, strict=True)
    ]


class Change(BaseModel):
    """Now minus before, per category; the share's change in percentage points of the rounded shares."""

    assigned: int
    completed_on_time: int
    completed_late: int
    unfinished_within_deadline: int
    unfinished_overdue: int
    no_fixed_deadline: int
    withdrawn: int
    overdue_share_points: float
    overdue_share_text: str


def change_between(now: Figures, before: Figures) -> Change:
    # Difference of the one-decimal shares as printed, so "3,2% … tăng 0,1%" reads consistently.
    points = round(now.overdue_share.percent - before.overdue_share.percent, 1)
    sign = "+" if points > 0 else ("−" if points < 0 else "±")
    return Change(
        **{c: getattr(now, c) - getattr(before, c) for c in CATEGORIES},
        overdue_share_points=points,
        overdue_share_text=f"{sign}{vn_number(abs(points), 1)}%",
    )
