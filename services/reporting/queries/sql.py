"""What every statement of the package is built from: numbered arguments, and the day of a moment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from events.clock import VN_TZ


class Sql:
    """Numbered asyncpg arguments, added as the statement is built."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def day_of(at: datetime) -> date:
    return at.astimezone(VN_TZ).date()


def next_midnight(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=VN_TZ)


def valid_at(moment: str, *, as_recorded: bool, alias: str = "h") -> str:
    """The history rows valid at ``moment`` (an SQL expression): on the effective axis (as the documents
    say), or on the recorded one (what dondoc showed then), whose NULLs mean "as effective"."""
    if as_recorded:
        return (
            f"coalesce({alias}.recorded_from, {alias}.valid_from) <= {moment}"
            f" AND coalesce({alias}.recorded_to, {alias}.valid_to) > {moment}"
        )
    return f"{alias}.valid_from <= {moment} AND {alias}.valid_to > {moment}"
