"""Vietnamese deadline text → a typed deadline (DESIGN §4 "Deadlines").

Deadlines are parsed from the words of the source document ("Tháng 11/2022", "Trước ngày 15/9/2023",
"chậm nhất trong quý I năm 2023", "trước ngày 30 tháng 9 hàng năm", "Theo tiến độ …"), never retyped
by hand. The parser is pure: no clock and no I/O; the document's own date (``issued``) is the only
context, used to fill in a missing year.

Rules, each taken from DESIGN §4 or from how the seeds write deadlines:

* A month, quarter, half-year or year means its last day; a day means that day. The deadline is the
  end of that day in Asia/Ho_Chi_Minh (:meth:`Deadline.due_at`).
* "trước <X>" (before X) means done by the end of the day before X starts: "trước ngày 15/9/2023" is
  14/9/2023, "trước tháng 6 năm 2023" is 31/5/2023, "trước quý II" the end of quarter I.
* A missing year is filled with the first year that puts the deadline on or after ``issued``.
* "Phấn đấu … , chậm nhất …": the "chậm nhất" (at the latest) date is the due date, the other one
  an earlier target.
* Recurring ("hằng năm", "định kỳ hằng quý", "hằng tháng", "6 tháng một lần"): every occurrence is
  tracked; ``due`` is the first one on or after ``issued``. A bare "hằng năm" with no date is taken as
  31 December each year: annual tasks are reported by year end, so that is the last day the year's
  work can still count; write the day when it is earlier ("trước ngày 30 tháng 9 hằng năm").
* Several named points a year ("thường kỳ tháng 6 và tháng 12", "quý I và quý III hằng năm"): a yearly
  recurrence with ``anchor_months``; each point is an occurrence tracked on its own.
* A programme period ("giai đoạn 2021-2025", "từ năm 2021 đến hết năm 2025") means 31 December of its last
  year (``period_start`` keeps its first day); with a recurrence ("hằng năm, giai đoạn 2021-2025") the
  occurrences run inside it and stop at ``until``.
* Lunar anchors ("trước Tết Nguyên đán Giáp Thìn", "Rằm tháng Giêng năm 2024", "ngày 15 tháng 8 âm lịch",
  "trong vòng 10 ngày sau Tết Nguyên đán") are fixed deadlines converted by the ``lunar-vn`` library; the
  year Gregorian, Can Chi, or both (checked to agree); the field ``lunar`` keeps the lunar date.
* No fixed deadline ("Theo tiến độ …", "thường xuyên", "liên tục", "đột xuất"): ``kind="none"``,
  counted apart in reports.
* Longer than 500 characters (:data:`MAX_DEADLINE_TEXT`): refused before any other work. Every step is
  linear in the text, so the cap bounds the time a sender can take.
* Anything else — a two-digit year, 31/02, "quý V", "đầu tháng 11", "ngay", "từ ngày …", "sau Tết",
  a yearly lunar recurrence ("trước Tết hằng năm", not tracked yet) — raises
  :class:`DeadlineParseError` naming what was wrong and the accepted forms. Nothing is guessed.

Day numbers that a short month lacks in a recurring deadline ("ngày 31 hằng tháng", "ngày 29/2 hằng
năm") fall on that month's last day, as the Civil Code (Bộ luật Dân sự 2015, Art. 148) ends a period
counted in months.

The package, one module per step: ``text`` makes the phrase comparable; ``parsing`` tries it as no
fixed deadline, then ``programme`` (a period), ``lunar``, ``frequency`` (a recurrence) and ``recurring``,
else ``fixed``; dates are read
by ``points``, ``periods`` and ``tokens``; ``refusals`` holds the error, its messages and the
accepted forms; ``model`` the :class:`Deadline`; ``schedule`` its calendar arithmetic.
"""

from events.deadlines.model import DOMAIN_TZ, Deadline
from events.deadlines.parsing import parse_deadline, parse_deadline_or_date
from events.deadlines.refusals import ACCEPTED_FORMS, MAX_DEADLINE_TEXT, DeadlineParseError

__all__ = [
    "ACCEPTED_FORMS",
    "DOMAIN_TZ",
    "MAX_DEADLINE_TEXT",
    "Deadline",
    "DeadlineParseError",
    "parse_deadline",
    "parse_deadline_or_date",
]
