"""Which recurrence a phrase names ("hằng năm", "định kỳ hằng quý", "hằng tháng", "6 tháng một lần"),
and what it says besides; daily and weekly ones, and "định kỳ" with no frequency, are refused."""

from __future__ import annotations

import re

from events.deadlines.refusals import fail
from events.deadlines.schedule import Recurrence
from events.deadlines.text import EDGE


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pattern})\b")


_RECURRENCES: tuple[tuple[Recurrence, re.Pattern[str]], ...] = (
    # Half-yearly first: "6 tháng một lần" contains the monthly "tháng một lần", and "nửa năm một
    # lần" the yearly "năm một lần".
    (
        "half-yearly",
        _words(
            r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+)?(?:(?:6|sáu)\s+tháng|nửa\s+năm)"
            r"\s*(?:(?:một|1)\s+lần|/\s*lần)"
            r"|(?:(?:định|thường) kỳ\s+)?(?:hàng|mỗi)\s+(?:(?:6|sáu)\s+tháng|nửa\s+năm)"
            r"|(?:định|thường) kỳ\s+(?:(?:6|sáu)\s+tháng|nửa\s+năm)(?!\s*(?:đầu|cuối))"
        ),
    ),
    (
        "yearly",
        _words(
            r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+năm(?:\s+(?:một|1)\s+lần)?"
            r"|(?:(?:một|1)\s+)?năm\s+(?:một|1)\s+lần)"
        ),
    ),
    ("quarterly", _words(r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+quý|quý\s+(?:một|1)\s+lần)")),
    ("monthly", _words(r"(?:(?:định|thường) kỳ\s+)?(?:(?:hàng|mỗi)\s+tháng|tháng\s+(?:một|1)\s+lần)")),
)
_AD_HOC = re.compile(r"(?:,\s*|\s+)?(?:hoặc|và)?\s*đột xuất")
_UNTRACKED_RECURRENCE = re.compile(r"\b(?:hàng|mỗi)\s+(?:ngày|tuần)\b")
_PERIODIC_WORD = re.compile(r"\b(?:định|thường) kỳ\b")
_SEVERAL_POINTS = re.compile(r"\b(?:tháng|quý) [^\s,;]+ ?(?:,|;|và) ?(?:tháng|quý)\b")


def find_recurrence(s: str, text: str) -> tuple[Recurrence, str] | None:
    found: list[Recurrence] = []
    rest = s
    for recurrence, pattern in _RECURRENCES:
        rest, n = pattern.subn(" ", rest)
        if n:
            found.append(recurrence)
    if len(found) > 1:
        fail(
            text,
            "More than one recurrence (" + ", ".join(found) + ")",
            "Có nhiều hơn một chu kỳ lặp lại trong cùng thời hạn",
        )
    if not found:
        if _UNTRACKED_RECURRENCE.search(s):
            fail(
                text,
                "Daily and weekly recurrences are not tracked; write 'thường xuyên' or a monthly, "
                "quarterly, half-yearly or yearly one",
                "Không theo dõi chu kỳ hằng ngày, hằng tuần; hãy ghi 'thường xuyên' hoặc chu kỳ "
                "hằng tháng, hằng quý, 6 tháng, hằng năm",
            )
        if _PERIODIC_WORD.search(s) and _SEVERAL_POINTS.search(s):
            # "thường kỳ tháng 6 và tháng 12": named points of the year, so a yearly obligation.
            return "yearly", re.sub(r"\s+", " ", _PERIODIC_WORD.sub(" ", s)).strip(EDGE)
        if _PERIODIC_WORD.search(s):
            fail(
                text,
                "'định kỳ' (periodic) without a frequency; write e.g. 'định kỳ hằng quý'",
                "'Định kỳ' nhưng không ghi chu kỳ; hãy ghi ví dụ 'định kỳ hằng quý'",
            )
        return None
    # Spaces first: every removal above left one, and a long run of them made each "\s+" of _AD_HOC
    # rescan the run from every position in it.
    rest = re.sub(r"\s+", " ", rest)
    # The ad-hoc part of "định kỳ hằng quý hoặc đột xuất" has no date to track.
    rest = _PERIODIC_WORD.sub(" ", _AD_HOC.sub(" ", rest))
    return found[0], re.sub(r"\s+", " ", rest).strip(EDGE)
