"""Alert wording and identity. Pure, no I/O. Texts are Vietnamese: they are read by officials."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from events.alerts import AlertKind
from events.envelope import deterministic_id


def alert_id(task_id: str, kind: AlertKind, threshold: str, recipient_person_id: str) -> uuid.UUID:
    return deterministic_id("alert", task_id, kind, threshold, recipient_person_id)


def _d(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "không có thời hạn cụ thể"


def message(kind: AlertKind, *, title: str, code: str, source_number: str, due: date | None,
            working_days_left: int | None = None) -> str:
    task = f"nhiệm vụ «{title}» ({code}, theo văn bản {source_number})"
    if kind == "assigned":
        return f"Anh/chị được giao phụ trách {task}. Thời hạn hoàn thành: {_d(due)}. Đề nghị triển khai thực hiện."
    if kind == "approaching":
        return (
            f"Còn {working_days_left} ngày làm việc đến hạn hoàn thành {task} (hạn {_d(due)}). "
            "Đề nghị khẩn trương hoàn thành và báo cáo kết quả."
        )
    overdue_from = due + timedelta(days=1) if due else None
    return (
        f"{task[0].upper()}{task[1:]} đã quá hạn từ ngày {_d(overdue_from)} (hạn {_d(due)}). "
        "Đề nghị báo cáo ngay kết quả hoặc đề xuất gia hạn, nêu rõ lý do."
    )
