"""The working group's report categories (DESIGN §4), unchanged from 2016 to 2025. Pure."""

from __future__ import annotations

from pydantic import BaseModel, computed_field

CATEGORIES = (
    "assigned",
    "completed_on_time",
    "completed_late",
    "unfinished_within_deadline",
    "unfinished_overdue",
    "no_fixed_deadline",
    "withdrawn",
)

LABELS_VI = {
    "assigned": "Nhiệm vụ được giao",
    "completed_on_time": "Hoàn thành đúng hạn",
    "completed_late": "Hoàn thành quá hạn",
    "unfinished_within_deadline": "Đang thực hiện trong hạn",
    "unfinished_overdue": "Quá hạn chưa hoàn thành",
    "no_fixed_deadline": "Không có thời hạn cụ thể",
    "withdrawn": "Rút khỏi danh mục",
}


def vn_number(value: float, decimals: int = 0) -> str:
    """Vietnamese format: 10.527 and 3,2."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


class Summary(BaseModel):
    assigned: int
    completed_on_time: int
    completed_late: int
    unfinished_within_deadline: int
    unfinished_overdue: int
    no_fixed_deadline: int
    withdrawn: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue_share(self) -> dict[str, object]:
        """Unfinished overdue / assigned, one decimal, with its base stated."""
        percent = round(100 * self.unfinished_overdue / self.assigned, 1) if self.assigned else 0.0
        return {
            "percent": percent,
            "text": f"{vn_number(percent, 1)}%",
            "numerator": "unfinished_overdue",
            "base": "assigned",
            "base_count": self.assigned,
        }
