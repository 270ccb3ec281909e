"""The working group's monthly paragraph (seed 004), from the figures. Pure.

"Lũy kế … giao 10.527 nhiệm vụ. Trong đó, có 6.954 nhiệm vụ đã hoàn thành (đúng hạn: 6.185, quá
hạn: 769); 3.230 nhiệm vụ trong hạn; 343 nhiệm vụ quá hạn chưa hoàn thành (chiếm 3,2%, tăng 0,1%
so với tháng trước)."
"""

from __future__ import annotations

from datetime import date

from services.reporting.domain import Change, Figures
from services.reporting.vietnamese import vn_date, vn_number


def change_words(points: float, compared_with: str) -> str:
    if points > 0:
        return f"tăng {vn_number(points, 1)}% so với {compared_with}"
    if points < 0:
        return f"giảm {vn_number(-points, 1)}% so với {compared_with}"
    return f"không thay đổi so với {compared_with}"


def working_group_paragraph(
    figures: Figures,
    *,
    as_of: date,
    scope: str,
    change: Change | None,
    compared_with: str = "tháng trước",
    period: tuple[date, date] | None = None,
) -> str:
    n = vn_number
    opening = (
        f"{scope}, từ ngày {vn_date(period[0])} đến ngày {vn_date(period[1])}"
        if period
        else f"{scope}, lũy kế đến ngày {vn_date(as_of)}"
    )
    share = f"chiếm {figures.overdue_share.text}"
    if change is not None:
        share += f", {change_words(change.overdue_share_points, compared_with)}"
    text = (
        f"{opening}: {n(figures.assigned)} nhiệm vụ được giao; "
        f"{n(figures.completed)} nhiệm vụ đã hoàn thành (đúng hạn: {n(figures.completed_on_time)}, "
        f"quá hạn: {n(figures.completed_late)}); "
        f"{n(figures.unfinished_within_deadline)} nhiệm vụ đang thực hiện trong hạn; "
        f"{n(figures.unfinished_overdue)} nhiệm vụ quá hạn chưa hoàn thành ({share})."
    )
    apart = []
    if figures.no_fixed_deadline:
        apart.append(f"{n(figures.no_fixed_deadline)} nhiệm vụ không có thời hạn cụ thể")
    if figures.withdrawn:
        apart.append(f"{n(figures.withdrawn)} nhiệm vụ đã rút")
    if apart:
        text += f" Ngoài ra, {' và '.join(apart)} (không tính vào số được giao)."
    return text
