"""What the parser refuses, and how it says so: the error, its messages and the forms it accepts."""

from __future__ import annotations

import re
from typing import NoReturn

ACCEPTED_FORMS: list[str] = [
    "Tháng 11/2022",
    "tháng 01/2023",
    "trong tháng 10 năm 2022",
    "hoàn thành trong tháng 5/2022",
    "Trước ngày 15/9/2023",
    "trước ngày 20/01/2022",
    "ngày 30 tháng 9 năm 2022",
    "chậm nhất ngày 30-9-2023",
    "đến ngày 15.9.2023",
    "trước tháng 6 năm 2023",
    "Quý I năm 2023",
    "chậm nhất trong quý 1/2023",
    "6 tháng đầu năm 2022",
    "nửa cuối năm 2023",
    "9 tháng đầu năm 2023",
    "năm 2023",
    "trước ngày 30/9",
    "Phấn đấu hoàn thành trong tháng 11 năm 2022, chậm nhất trong quý I năm 2023",
    "trước ngày 30 tháng 9 hàng năm",
    "hằng năm",
    "định kỳ hằng quý",
    "trước ngày 20 của tháng cuối quý, định kỳ hằng quý",
    "định kỳ 6 tháng",
    "hằng tháng",
    "trước ngày 5 hằng tháng",
    "tháng 6 và tháng 12 hằng năm",
    "quý I và quý III hằng năm",
    "giai đoạn 2021-2025",
    "hằng năm, giai đoạn 2021-2025",
    "trước Tết Nguyên đán Giáp Thìn",
    "Rằm tháng Giêng năm 2024",
    "ngày 15 tháng 8 âm lịch năm 2024",
    "trong vòng 10 ngày sau Tết Nguyên đán năm 2024",
    "Theo tiến độ Kế hoạch của UBND tỉnh",
    "thường xuyên",
    "liên tục",
]


# The longest deadline in the seeds is under 100 characters ("theo tiến độ được giao tại Nghị quyết số
# 63/NQ-CP ngày 03 tháng 5 năm 2022 của Chính phủ"); five times that leaves room for a cited document
# and keeps the parser's work bounded whatever a sender puts in the field.
MAX_DEADLINE_TEXT = 500


class DeadlineParseError(ValueError):
    """A deadline text that cannot be read without guessing.

    ``message_vi`` is the user-facing message (agencies see it in intake rejections);
    ``message_en`` and ``str()`` are for logs and developers.
    """

    def __init__(self, text: str, message_en: str, message_vi: str, accepted_forms: list[str] | None = None) -> None:
        self.text = text
        self.message_en = message_en
        self.message_vi = message_vi
        self.accepted_forms = list(ACCEPTED_FORMS if accepted_forms is None else accepted_forms)
        super().__init__(f"{message_en} (in deadline {text!r}). Accepted forms: {'; '.join(self.accepted_forms)}")

    def __reduce__(self) -> tuple[type[DeadlineParseError], tuple[str, str, str, list[str]]]:
        # The default reduce would call __init__ with the formatted message only.
        return (type(self), (self.text, self.message_en, self.message_vi, self.accepted_forms))


def fail(text: str, message_en: str, message_vi: str) -> NoReturn:
    raise DeadlineParseError(text, message_en, message_vi)


def reject_known_non_deadlines(s: str, text: str) -> None:
    """Specific messages for the forms people write that carry no date of their own."""
    if re.match(r"(?:kể từ|bắt đầu từ|từ)\b", s):
        fail(
            text,
            "'từ …' (from) gives a start date, not a deadline",
            "'Từ …' là thời điểm bắt đầu, không phải thời hạn hoàn thành",
        )
    if re.match(r"sau\b", s):
        fail(text, "'sau …' (after) gives no deadline", "'Sau …' không xác định thời hạn hoàn thành")
    # "(?<!\d)": a run of digits is tried once from its start, not once from each of its digits.
    if re.search(r"trong vòng|(?<!\d)\d+\s*(?:ngày|tuần|tháng|năm)\s*(?:làm việc\s*)?(?:kể từ|từ|sau)\b", s):
        fail(
            text,
            "A deadline counted from an event ('trong vòng 30 ngày', 'N ngày làm việc kể từ …') "
            "needs that event's date; write the date",
            "Thời hạn tính từ một sự kiện ('trong vòng 30 ngày', 'N ngày làm việc kể từ …') chưa có "
            "ngày cụ thể; hãy ghi rõ ngày",
        )
    if re.fullmatch(r"(?:ngay|khẩn trương|kịp thời|sớm|càng sớm càng tốt)\b.*", s):
        fail(
            text,
            "Urgency words ('ngay', 'khẩn trương', 'kịp thời') give no date; write the date",
            "Các từ chỉ sự khẩn trương ('ngay', 'khẩn trương', 'kịp thời') không xác định ngày; hãy ghi rõ ngày",
        )
    if re.match(r"(?:đầu|giữa)\s+(?:tháng|quý|năm)\b", s):
        fail(
            text,
            "'đầu …'/'giữa …' (early/mid …) is not a precise date; write the day or the month",
            "'Đầu …'/'giữa …' không phải ngày cụ thể; hãy ghi rõ ngày hoặc tháng",
        )
    if re.match(r"ngày(?!\s*\d)", s):
        fail(text, "'ngày …' is not followed by a day and month", "Sau 'ngày' không có ngày tháng cụ thể")


def refuse_oversized(text: str) -> None:
    """Refused before any other work, so a huge text costs no more than its length check."""
    if len(text) > MAX_DEADLINE_TEXT:
        shown = text[:40] + "…"
        raise DeadlineParseError(
            shown,
            f"The deadline text is {len(text)} characters long; at most {MAX_DEADLINE_TEXT} are accepted. "
            "Write the deadline itself (a date, month, quarter or 'theo tiến độ …'), not the whole paragraph",
            f"Thời hạn dài {len(text)} ký tự; chỉ chấp nhận tối đa {MAX_DEADLINE_TEXT} ký tự. Hãy ghi riêng "
            "thời hạn (ngày, tháng, quý hoặc 'theo tiến độ …'), không chép cả đoạn văn",
        )
