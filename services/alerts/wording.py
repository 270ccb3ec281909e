"""Alert texts, in Vietnamese: officials read them. Each says the task, its source document, the
deadline, the days left or overdue, and what to do. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta
from functools import lru_cache

from events.alerts import AlertKind, RecipientRole
from events.tasks import TaskTransferred
from services.alerts.domain import AlertTask, DigestItem, days_overdue


@lru_cache(maxsize=4096)
def d(value: date | None) -> str:
    # Cached: every alert's text writes two or three dates, and a bulk import's tasks share a few hundred.
    return value.strftime("%d/%m/%Y") if value else "không có thời hạn cụ thể"


def task_ref(task: AlertTask) -> str:
    doc = f"văn bản số {task.source_number}"
    if task.source_issued_on:
        doc += f" ngày {d(task.source_issued_on)}"
    if task.source_issuer:
        doc += f" của {task.source_issuer}"
    return f"nhiệm vụ «{task.title}» (mã {task.code}, giao tại {doc})"


def _deadline(task: AlertTask, due: date | None) -> str:
    text = task.deadline_text or ""
    written = f" (văn bản ghi: «{text}»)" if text and d(due) not in text else ""
    return f"{d(due)}{written}"


_TODO = {
    "assigned": "Việc cần làm: triển khai thực hiện, cập nhật tiến độ và báo cáo kết quả kèm sản phẩm trên hệ thống.",
    "approaching": "Việc cần làm: khẩn trương hoàn thành và báo cáo kết quả kèm sản phẩm; nếu không kịp, "
    "đề xuất gia hạn trước khi hết hạn.",
    "overdue": "Việc cần làm: báo cáo ngay kết quả hoặc đề xuất gia hạn, nêu rõ lý do chậm.",
    "escalated": "Đề nghị chỉ đạo, đôn đốc cơ quan chủ trì xử lý dứt điểm và báo cáo.",
    "transferred": "Việc cần làm: phân công cán bộ phụ trách, tiếp tục thực hiện theo thời hạn đang có hiệu lực "
    "và cập nhật tiến độ trên hệ thống.",
}
_INFORMED = "Để biết và phối hợp thực hiện phần việc của cơ quan mình."


def message(
    kind: AlertKind,
    role: RecipientRole,
    task: AlertTask,
    *,
    due: date | None,
    today: date,
    working_days_left: int | None = None,
    reminder: int = 0,
    transfer: TaskTransferred | None = None,
) -> str:
    ref = task_ref(task)
    if kind == "transferred":
        assert transfer is not None
        decision = transfer.decision
        part = "chủ trì" if transfer.role == "chu-tri" else "phối hợp thực hiện"
        body = (
            f"Nhiệm vụ được chuyển giao cho cơ quan của đồng chí: theo văn bản số {decision.number} ngày "
            f"{d(decision.issued_on)} của {decision.issuer}, từ ngày {d(transfer.effective_on)} cơ quan của đồng chí "
            f"{part} {ref}, thay {transfer.from_agency_id}. Thời hạn hoàn thành: {_deadline(task, due)}."
        )
    elif kind == "assigned":
        opening = {
            "officer": f"Anh/chị được giao phụ trách {ref}.",
            "head": f"Cơ quan của đồng chí được giao chủ trì {ref}.",
        }.get(
            role,
            f"Cơ quan của đồng chí được giao phối hợp thực hiện {ref}, do {task.lead_agency_id} chủ trì.",
        )
        body = f"{opening} Thời hạn hoàn thành: {_deadline(task, due)}."
    elif kind == "approaching":
        body = f"Còn {working_days_left} ngày làm việc đến hạn hoàn thành {ref} (hạn {_deadline(task, due)})."
    elif kind == "overdue":
        assert due is not None
        body = (
            f"{ref[0].upper()}{ref[1:]} đã quá hạn {days_overdue(due, today)} ngày, quá hạn từ ngày "
            f"{d(due + timedelta(days=1))} (hạn {_deadline(task, due)})."
        )
    else:
        assert due is not None
        body = (
            f"{ref[0].upper()}{ref[1:]} do cơ quan đồng chí giao đã quá hạn {days_overdue(due, today)} ngày "
            f"(hạn {d(due)}) mà chưa hoàn thành; cơ quan chủ trì: {task.lead_agency_id}."
        )
    todo = _INFORMED if role == "coordinator" and kind != "transferred" else _TODO[kind]
    prefix = f"[Nhắc lại lần {reminder}] " if reminder else ""
    return f"{prefix}{body} {todo}"


_SUBJECT = {
    "assigned": "Giao nhiệm vụ",
    "approaching": "Sắp đến hạn",
    "overdue": "Quá hạn",
    "escalated": "Nhiệm vụ quá hạn cần chỉ đạo",
    "transferred": "Chuyển giao nhiệm vụ",
}


def subject(kind: str, title: str, reminder: int = 0) -> str:
    again = f" (nhắc lại lần {reminder})" if reminder else ""
    return f"[dondoc] {_SUBJECT.get(kind, 'Cảnh báo')}{again}: {title}"


# What external channels say of a secret task instead of its content (see disclosure.py).
SECRET_TITLE = "Nhiệm vụ mật"
OPEN_DONDOC = "Nhiệm vụ mật: xem nội dung trong hệ thống dondoc."


def secret_notice(kind: str, *, task_id: str, alert_id: object, reminder: int = 0) -> str:
    prefix = f"[Nhắc lại lần {reminder}] " if reminder else ""
    return (
        f"{prefix}Anh/chị có cảnh báo «{_SUBJECT.get(kind, 'Cảnh báo')}» về một nhiệm vụ mật "
        f"(mã nhiệm vụ: {task_id}; mã cảnh báo: {alert_id}). {OPEN_DONDOC}"
    )


_BECAUSE = {
    "completed": "nhiệm vụ đã hoàn thành",
    "withdrawn": "cơ quan giao đã rút nhiệm vụ",
    "deadline-extended": "thời hạn đã được gia hạn; cảnh báo theo thời hạn mới sẽ được gửi khi đến lúc",
}


def resolved(kind: str, because: str, task: AlertTask, *, disclose: bool) -> str:
    """That an alert is over: to the agency system that received it."""
    about = (
        f"nhiệm vụ «{task.title}» (mã {task.code})" if disclose else f"một nhiệm vụ mật (mã nhiệm vụ: {task.task_id})"
    )
    text = f"Cảnh báo «{_SUBJECT.get(kind, 'Cảnh báo')}» về {about} đã kết thúc: {_BECAUSE.get(because, because)}."
    return text if disclose else f"{text} {OPEN_DONDOC}"


def digest(day: date, items: Sequence[DigestItem], *, secret: Collection[str] = ()) -> tuple[str, str]:
    """(subject, text) of one person's daily digest of approaching deadlines; the tasks in ``secret``
    (their ids) are named by id only, without content or deadline (the e-mail of it, disclosure.py)."""
    lines = [
        f"{i}. {SECRET_TITLE} (mã nhiệm vụ: {it.task_id}). {OPEN_DONDOC}"
        if it.task_id in secret
        else f"{i}. «{it.title}» (mã {it.code}, văn bản {it.source_number}): hạn {d(it.due)}, "
        f"còn {it.working_days_left} ngày làm việc."
        for i, it in enumerate(items, 1)
    ]
    text = (
        f"Tổng hợp ngày {d(day)}: {len(items)} nhiệm vụ anh/chị phụ trách sắp đến hạn.\n"
        + "\n".join(lines)
        + "\nViệc cần làm: khẩn trương hoàn thành, báo cáo kết quả; nếu không kịp, đề xuất gia hạn."
    )
    return f"[dondoc] Tổng hợp nhiệm vụ sắp đến hạn ngày {d(day)}", text
