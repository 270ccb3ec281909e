"""The parsed deadline: its fields, their consistency, and its due dates."""

from __future__ import annotations

import heapq
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from events.deadlines import schedule
from events.deadlines.schedule import Recurrence

DOMAIN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

Kind = Literal["fixed", "recurring", "none"]


def _unset(value: object) -> bool:
    """Fields added after the first published contract are left out of the JSON when unset, so a deadline
    of the earlier classes serialises exactly as before and readers built before them still read it."""
    return value is None


class LunarDate(BaseModel):
    """A day (or, with ``day`` null, a whole month) of the Vietnamese lunar calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(description="The lunar year, numbered as the Gregorian year in which it begins.")
    month: int = Field(ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=30, description="null: the whole month (its last day).")
    can_chi: str = Field(description="The year's name in the sexagenary cycle, e.g. 'Giáp Thìn'.")


class Deadline(BaseModel):
    """A parsed deadline. Serialisable as is: recurring ones carry their anchor, not just ``due``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    due: date | None = Field(
        default=None,
        description="fixed: the due date; recurring: the first occurrence on or after the document date; "
        "none: null. Due at the end of that day, Asia/Ho_Chi_Minh.",
    )
    target: date | None = Field(
        default=None, description="An earlier target date ('Phấn đấu …'), fixed deadlines only."
    )
    recurrence: Recurrence | None = None
    anchor_month: int | None = Field(
        default=None,
        ge=1,
        le=12,
        description="Yearly deadlines: the month of each occurrence (default December).",
    )
    anchor_day: int | None = Field(
        default=None,
        ge=1,
        le=31,
        description="Recurring deadlines: the day of the reference month (its last month for a quarter or "
        "half-year); null means the last day. A day a month lacks falls on its last day.",
    )
    anchor_day_before: bool = Field(
        default=False,
        description="Recurring deadlines: the occurrence is the day before anchor_day ('trước ngày').",
    )
    anchor_months: list[int] | None = Field(
        default=None,
        exclude_if=_unset,
        description="Yearly deadlines due at several points a year ('tháng 6 và tháng 12 hằng năm', "
        "'quý I và quý III hằng năm'): the month of each occurrence, ascending, at least two; anchor_month is "
        "then null and anchor_day applies to each.",
    )
    period_start: date | None = Field(
        default=None,
        exclude_if=_unset,
        description="A programme period ('giai đoạn 2021-2025'): its first day. Its end is due (fixed) or until "
        "(recurring).",
    )
    until: date | None = Field(
        default=None,
        exclude_if=_unset,
        description="Recurring deadlines within a programme period: no occurrence after this day.",
    )
    lunar: LunarDate | None = Field(
        default=None,
        exclude_if=_unset,
        description="Fixed deadlines anchored to the lunar calendar ('trước Tết Nguyên đán Giáp Thìn', "
        "'Rằm tháng Giêng năm 2024'): the lunar date due was computed from.",
    )
    text: str = Field(description="The deadline as written in the document (NFC).")

    @field_validator("text")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    @model_validator(mode="after")
    def _consistent(self) -> Deadline:
        anchored = (
            self.anchor_month is not None
            or self.anchor_day is not None
            or self.anchor_day_before
            or self.anchor_months is not None
        )
        if self.kind == "none":
            later = self.period_start is not None or self.until is not None or self.lunar is not None
            if self.due is not None or self.target is not None or self.recurrence or anchored or later:
                raise ValueError("a deadline of kind 'none' has no dates, recurrence or anchor")
        elif self.kind == "fixed":
            if self.due is None:
                raise ValueError("a fixed deadline needs a due date")
            if self.recurrence or anchored or self.until is not None:
                raise ValueError("a fixed deadline has no recurrence, anchor or until")
            if self.target is not None and self.target > self.due:
                raise ValueError("the target date is after the due date")
        else:
            self._check_recurring()
        if self.period_start is not None and self.due is not None and self.period_start > (self.until or self.due):
            raise ValueError("the period starts after it ends")
        return self

    def _check_recurring(self) -> None:
        if self.due is None or self.recurrence is None:
            raise ValueError("a recurring deadline needs a recurrence and its first due date")
        if self.target is not None:
            raise ValueError("a recurring deadline has no target date")
        if (self.anchor_month is not None or self.anchor_months is not None) and self.recurrence != "yearly":
            raise ValueError("anchor_month and anchor_months are for yearly deadlines only")
        if self.lunar is not None:
            raise ValueError("a recurring deadline has no lunar anchor")
        if self.anchor_months is not None:
            if self.anchor_month is not None:
                raise ValueError("anchor_month and anchor_months exclude each other")
            if len(self.anchor_months) < 2 or sorted(set(self.anchor_months)) != self.anchor_months:
                raise ValueError("anchor_months lists at least two distinct months, ascending")
            if not all(1 <= m <= 12 for m in self.anchor_months):
                raise ValueError("anchor_months are months 1 to 12")
        if self.until is not None and self.until < self.due:
            raise ValueError("until is before the first occurrence")
        if self.anchor_day_before and self.anchor_day is None:
            raise ValueError("anchor_day_before needs anchor_day")
        for month in self.anchor_months or ([self.anchor_month] if self.anchor_month is not None else []):
            if self.anchor_day is not None and self.anchor_day > schedule.last_day(2000, month):  # 2000: leap
                raise ValueError(f"day {self.anchor_day} does not exist in month {month}")
        if self.occurrence_on_or_after(self.due) != self.due:
            raise ValueError("due is not an occurrence of the recurrence")

    def due_at(self) -> datetime | None:
        """The end of the due day (23:59:59.999999) in Asia/Ho_Chi_Minh, None when there is no due date."""
        if self.due is None:
            return None
        return datetime.combine(self.due, time.max, tzinfo=DOMAIN_TZ)

    def occurrences(self, start: date, end: date) -> list[date]:
        """Due dates in [start, end], inclusive.

        Recurring: every occurrence from the first one (``due``) on. Fixed: ``[due]`` when inside, so a
        scheduler can treat every kind alike. None: always empty.
        """
        if self.due is None:
            return []
        if self.recurrence is None:
            return [self.due] if start <= self.due <= end else []
        return list(self._rule(max(start, self.due), end))

    def occurrence_on_or_after(self, day: date) -> date | None:
        """The first due date on or after ``day`` (the next one to track), None when there is none."""
        if self.due is None:
            return None
        if self.recurrence is None:
            return self.due if self.due >= day else None
        return next(self._rule(day, date.max - timedelta(days=62)), None)

    def _rule(self, lo: date, hi: date) -> Iterator[date]:
        assert self.recurrence is not None
        if self.until is not None:
            hi = min(hi, self.until)
        if self.anchor_months is not None:
            return heapq.merge(
                *(
                    schedule.occurrences(self.recurrence, m, self.anchor_day, self.anchor_day_before, lo, hi)
                    for m in self.anchor_months
                )
            )
        return schedule.occurrences(self.recurrence, self.anchor_month, self.anchor_day, self.anchor_day_before, lo, hi)
