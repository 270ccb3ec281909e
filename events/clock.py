"""The domain clock.

Every deadline decision asks a Clock, never ``datetime.now()``, so tests move time instead of
waiting. The domain time zone is Asia/Ho_Chi_Minh: a due date ends at midnight there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(VN_TZ)


class ShiftedClock:
    """Real time moved by a fixed offset: lets an end-to-end run live on a chosen day (e.g. ten
    seconds before a deadline) while time still flows, identically for every process."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return (datetime.now(VN_TZ) + self._offset).astimezone(VN_TZ)


class ManualClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must carry a UTC offset")
        self._now = start.astimezone(VN_TZ)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(VN_TZ)
