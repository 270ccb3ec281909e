"""The entry points: a phrase (or an ISO date) and the document's date in, a :class:`Deadline` out.

The phrase is tried as "no fixed deadline" first, then as a recurrence, then as fixed dates.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from events.deadlines.fixed import parse_fixed
from events.deadlines.frequency import find_recurrence
from events.deadlines.lunar import looks_lunar, parse_lunar
from events.deadlines.model import Deadline
from events.deadlines.programme import parse_programme
from events.deadlines.recurring import parse_recurring
from events.deadlines.refusals import fail, refuse_oversized
from events.deadlines.text import canonical, strip_fillers

# The repetition is possessive ("*+"): a space between two words could go to either "\s*", and
# backtracking over every split made a long phrase that fails at its end exponential.
_NONE = re.compile(
    r"theo (?:tiến độ|kế hoạch|lộ trình|quy định|yêu cầu|chỉ đạo|hướng dẫn)\b.*"
    r"|(?:thường xuyên|liên tục|đột xuất|khi có yêu cầu)(?:\s*(?:,|;|và|hoặc)?\s*"
    r"(?:thường xuyên|liên tục|đột xuất|khi có yêu cầu))*+"
)
# In a "theo tiến độ …" text, a date that reads as a deadline rather than a cited document's date.
_DEADLINE_WORDS = re.compile(
    r"\b(?:chậm nhất|không quá|không muộn hơn|không chậm hơn|hạn chót|trước (?:ngày|tháng|quý|năm)"
    r"|(?:trong|cuối|hết) (?:tháng|quý|năm) \S*\d|(?:6|sáu) tháng (?:đầu|cuối))"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_deadline(text: str, issued: date) -> Deadline:
    """Parse a Vietnamese deadline as written in a document issued on ``issued``.

    Raises :class:`DeadlineParseError` for text that cannot be read without guessing.
    """
    if isinstance(issued, datetime):
        # Its date depends on a time zone we would have to guess.
        raise TypeError("issued must be a date, not a datetime")
    refuse_oversized(text)
    return parse_unbounded(text, issued)


def parse_unbounded(text: str, issued: date) -> Deadline:
    """:func:`parse_deadline` without the length cap: linear in the text, for the tests that show it."""
    original = unicodedata.normalize("NFC", text)
    s = canonical(text)
    if not strip_fillers(s):
        fail(original, "The deadline is empty", "Thời hạn đang để trống")
    if _NONE.fullmatch(strip_fillers(s)):
        if _DEADLINE_WORDS.search(s):
            fail(
                original,
                "'theo tiến độ …' together with a deadline; keep one",
                "Vừa 'theo tiến độ …' vừa có thời hạn; hãy giữ một",
            )
        return Deadline(kind="none", text=original)
    if (programme := parse_programme(s, original, issued)) is not None:
        return programme
    if looks_lunar(s):
        if find_recurrence(s, original) is not None:
            fail(
                original,
                "Recurring deadlines on the lunar calendar are not tracked yet; write the year of each",
                "Chưa theo dõi được thời hạn định kỳ theo âm lịch; hãy ghi rõ năm của từng mốc",
            )
        return parse_lunar(s, original, issued)
    if (found := find_recurrence(s, original)) is not None:
        return parse_recurring(found[0], found[1], original, issued)
    return parse_fixed(s, original, issued)


def parse_deadline_or_date(value: str, issued: date) -> Deadline:
    """An ISO date ("2023-03-31") as a fixed deadline, anything else through :func:`parse_deadline`."""
    refuse_oversized(value)
    iso = unicodedata.normalize("NFKC", value).strip()
    if _ISO_DATE.fullmatch(iso):
        try:
            due = date.fromisoformat(iso)
        except ValueError:
            fail(unicodedata.normalize("NFC", value), f"{iso} is not a calendar date", f"Ngày {iso} không có trên lịch")
        return Deadline(kind="fixed", due=due, text=value)
    return parse_deadline(value, issued)
