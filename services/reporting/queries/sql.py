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
