"""Programme periods: "giai đoạn 2021-2025", "trong giai đoạn từ năm 2021 đến năm 2025", "từ năm 2021 đến
hết năm 2025". A period on its own means its end, 31 December of its last year; with a recurrence ("hằng
năm, giai đoạn 2021-2025") the occurrences run inside it, from its start (or the document's date) to its end.
"""

from __future__ import annotations

import re
from datetime import date

from events.deadlines.frequency import find_recurrence
from events.deadlines.model import Deadline
from events.deadlines.recurring import parse_recurring
from events.deadlines.refusals import fail
from events.deadlines.text import strip_fillers
from events.deadlines.tokens import read_year

_TO = r"\s*(?:-|đến(?:\s+hết)?)\s*(?:năm\s+)?"
_PERIOD = re.compile(
    r"(?:(?:trong|cả|hết|đến hết|trong cả)\s+)?"
    rf"(?:(?:giai đoạn|thời kỳ)\s+(?:từ\s+)?(?:năm\s+)?(?P<a>\d+){_TO}(?P<b>\d+)"
    r"|từ\s+năm\s+(?P<c>\d+)\s+đến(?:\s+hết)?\s+năm\s+(?P<d>\d+))"
)


def parse_programme(s: str, text: str, issued: date) -> Deadline | None:
    """The deadline of a phrase naming a programme period, None when it names none."""
    found = list(_PERIOD.finditer(s))
    if not found:
        return None
    if len(found) > 1:
        fail(text, "More than one programme period", "Có nhiều hơn một giai đoạn trong cùng thời hạn")
    m = found[0]
    first = read_year(m["a"] or m["c"], text)
    last = read_year(m["b"] or m["d"], text)
    assert first is not None and last is not None
    if first >= last:
        fail(
            text,
            f"The period {first}-{last} does not run forward over several years; for one year write 'năm {last}'",
            f"Giai đoạn {first}-{last} không phải một khoảng nhiều năm; nếu là một năm, hãy ghi 'năm {last}'",
        )
    start, end = date(first, 1, 1), date(last, 12, 31)
    rest = s[: m.start()] + " " + s[m.end() :]
    if (recurrence := find_recurrence(rest, text)) is not None:
        return parse_recurring(*recurrence, text, issued, period_start=start, until=end)
    if strip_fillers(rest):
        fail(
            text,
            "A programme period together with another date; keep one, or write 'hằng năm' for a yearly "
            "obligation within the period",
            "Vừa có giai đoạn vừa có mốc thời gian khác; hãy giữ một, hoặc ghi 'hằng năm' nếu là nhiệm vụ "
            "thực hiện hằng năm trong giai đoạn",
        )
    return Deadline(kind="fixed", due=end, period_start=start, text=text)
