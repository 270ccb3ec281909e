"""Two times per fact, as a careful ledger keeps them (DESIGN §3 "Effective and recorded time").

The **recorded** time is the event's own ``occurred_at``: when dondoc learnt the fact. The **effective**
time is when the fact took effect, as its document or command says: the day a plan was issued (a province
loading in March the plan it issued in November), the day completion was reported, the day an extension
was decided. Reports, ``as_of`` and the trend read effective time; ``as_recorded`` reads recorded time.

A document gives a day, not an instant: the fact takes effect at the start of that day (Asia/Ho_Chi_Minh).
A day that is the recording day itself says nothing the recorded time does not: no effective time is
written then, so an event recorded as it happens serialises exactly as before.

Refused, never guessed: an effective day after the recording day (a fact cannot count before dondoc could
know it), and one before the day of what it depends on (a delegated part before its parent task was
assigned, a completion or an extension before the task was).
"""

from __future__ import annotations

from datetime import date, datetime, time

from events.clock import VN_TZ


class EffectiveTimeRefused(ValueError):
    """An effective time that cannot be: ``code`` and the bilingual message say which and why."""

    def __init__(self, code: str, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_vi = message_vi


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VN_TZ)


def effective_at(day: date | None, recorded: datetime, *, not_before: date | None = None) -> datetime | None:
    """The effective time of a fact its document dates ``day``, recorded at ``recorded``; None when it is
    the recorded time (no day given, or the recording day). ``not_before``: the day of what it depends on."""
    if day is None:
        return None
    today = recorded.astimezone(VN_TZ).date()
    if day > today:
        raise EffectiveTimeRefused(
            "effective-date-in-future",
            f"the document's date {day.isoformat()} is after today ({today.isoformat()}): a fact counts from a day "
            "that has passed or from today; give the date the document was issued",
            f"Ngày văn bản {day:%d/%m/%Y} sau ngày hôm nay ({today:%d/%m/%Y}): chỉ ghi nhận sự việc đã xảy ra; "
            "hãy nhập đúng ngày ban hành văn bản",
        )
    if not_before is not None and day < not_before:
        raise EffectiveTimeRefused(
            "effective-date-before-parent",
            f"the document's date {day.isoformat()} is before {not_before.isoformat()}, the day the task it "
            "depends on was assigned: a fact cannot take effect before the task it is about",
            f"Ngày văn bản {day:%d/%m/%Y} trước ngày {not_before:%d/%m/%Y} giao nhiệm vụ mà nó thuộc về: "
            "sự việc không thể có hiệu lực trước nhiệm vụ",
        )
    return None if day == today else start_of(day)


def effective_day(effective: datetime | None, recorded: datetime) -> date:
    """The day a fact counts from: its effective time's, else its recorded time's."""
    return (effective or recorded).astimezone(VN_TZ).date()
