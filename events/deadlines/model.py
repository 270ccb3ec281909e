"""The parsed deadline: its fields, their consistency, and its due dates."""

from __future__ import annotations

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
    text: str = Field(description="The deadline as written in the document (NFC).")

    @field_validator("text")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return unicodedata.normalize("NFC", value)

    @model_validator(mode="after")
    def _consistent(self) -> Deadline:
        anchored = self.anchor_month is not None or self.anchor_day is not None or self.anchor_day_before
        if self.kind == "none":
            if self.due is not None or self.target is not None or self.recurrence or anchored:
                raise ValueError("a deadline of kind 'none' has no dates, recurrence or anchor")
        elif self.kind == "fixed":
            if self.due is None:
                raise ValueError("a fixed deadline needs a due date")
            if self.recurrence or anchored:
                raise ValueError("a fixed deadline has no recurrence or anchor")
            if self.target is not None and self.target > self.due:
                raise ValueError("the target date is after the due date")
        else:
            self._check_recurring()
        return self

    def _check_recurring(self) -> None:
        if self.due is None or self.recurrence is None:
            raise ValueError("a recurring deadline needs a recurrence and its first due date")
        if self.target is not None:
            raise ValueError("a recurring deadline has no target date")
        if self.anchor_month is not None and self.recurrence != "yearly":
            raise ValueError("anchor_month is for yearly deadlines only")
        if self.anchor_day_before and self.anchor_day is None:
            raise ValueError("anchor_day_before needs anchor_day")
        if self.anchor_day is not None and self.anchor_month is not None:
            if self.anchor_day > schedule.last_day(2000, self.anchor_month):  # 2000: a leap year, so 29/2 passes
                raise ValueError(f"day {self.anchor_day} does not exist in month {self.anchor_month}")
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
        return schedule.occurrences(self.recurrence, self.anchor_month, self.anchor_day, self.anchor_day_before, lo, hi)
