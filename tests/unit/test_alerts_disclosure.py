"""What leaves dondoc by webhook and e-mail, pure: a secret task's content never; public and internal-use
tasks in full; a resolution notice says it is over, in Vietnamese."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from events.clock import VN_TZ
from services.alerts import disclosure, raising, wording
from services.alerts.domain import AlertTask
from tests.fakes import alerts as fake_alerts

ALERT_ID = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
TASK = fake_alerts.a_task(
    "t-0123456789abcdef0123", assigning_agency_id="ubnd-bd", lead_agency_id="bd-sgddt", classification="cong-khai"
)
ALERT = fake_alerts.an_alert(
    ALERT_ID,
    task_id=TASK.task_id,
    kind="overdue",
    threshold="2022-11-30:overdue",
    recipient_person_id="p-officer",
    recipient_role="officer",
    recipient_agency_id="bd-sgddt",
    due=date(2022, 11, 30),
    message_vi="[Nhắc lại lần 2] Nhiệm vụ «Triển khai thanh toán học phí trực tuyến» (mã 131/NQ-CP#13) ...",
)
ENTRY = raising.entry(ALERT, TASK, 2)  # the in-app entry of its second reminder, which the webhook carries
CONTENT = ("Triển khai", "131/NQ-CP", "30/11/2022", "2022-11-30", "Tháng 11/2022")


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def secret(**changes: Any) -> AlertTask:
    return replace(TASK, **{"classification": "mat", **changes})


@pytest.mark.parametrize("classification", ["mat", None])
def test_a_secret_task_leaves_dondoc_without_its_content(classification: str | None) -> None:
    task = secret(classification=classification)  # None: older than the column, withheld all the same
    body = disclosure.webhook_body(ENTRY, task)
    assert not any(part in _text(body) for part in CONTENT), body
    assert body["withheld"] is True and body["alert_id"] == ALERT_ID and body["task_id"] == TASK.task_id
    assert body["kind"] == "overdue" and body["reminder"] == 2 and body["recipient_agency_id"] == "bd-sgddt"
    assert wording.OPEN_DONDOC in body["message_vi"] and body["message_vi"].startswith("[Nhắc lại lần 2]")

    subject, text = disclosure.email(ALERT, task, 2)
    assert subject == "[dondoc] Quá hạn (nhắc lại lần 2): Nhiệm vụ mật"
    assert not any(part in subject + text for part in CONTENT)
    assert "Nhiệm vụ mật: xem nội dung trong hệ thống dondoc" in text and TASK.task_id in text


@pytest.mark.parametrize("classification", ["cong-khai", "noi-bo"])
def test_public_and_internal_use_tasks_go_in_full(classification: str) -> None:
    task = replace(TASK, classification=classification)
    body = disclosure.webhook_body(ENTRY, task)
    assert body == {**ENTRY, "classification": classification, "withheld": False}
    subject, text = disclosure.email(ALERT, task, 2)
    assert TASK.title in subject and text == ALERT.message_vi


def test_the_mailed_digest_names_a_secret_task_by_id_only_and_the_in_app_one_in_full() -> None:
    items = [
        fake_alerts.a_digest_item(replace(TASK, due=date(2022, 11, 30)), "p-officer", 7),
        fake_alerts.a_digest_item(
            secret(task_id="t-secret", title="Kế hoạch mật", code="MAT#1", due=date(2022, 12, 15)), "p-officer", 18
        ),
    ]
    _, mailed = disclosure.digest_email(date(2022, 11, 21), items)
    assert "«Triển khai thanh toán học phí trực tuyến»" in mailed and "còn 7 ngày làm việc" in mailed
    assert "2. Nhiệm vụ mật (mã nhiệm vụ: t-secret)" in mailed
    assert "Kế hoạch mật" not in mailed and "MAT#1" not in mailed and "15/12/2022" not in mailed
    _, in_app = wording.digest(date(2022, 11, 21), items)
    assert "Kế hoạch mật" in in_app


def test_a_resolution_notice_says_the_alert_is_over_and_why() -> None:
    at = datetime(2022, 12, 1, 9, tzinfo=VN_TZ)
    public = disclosure.resolution_body(ALERT, TASK, "completed", at)
    assert public["event"] == "resolved" and public["because"] == "completed" and public["alert_id"] == ALERT_ID
    assert public["message_vi"] == (
        "Cảnh báo «Quá hạn» về nhiệm vụ «Triển khai thanh toán học phí trực tuyến» (mã 131/NQ-CP#13) "
        "đã kết thúc: nhiệm vụ đã hoàn thành."
    )
    hidden = disclosure.resolution_body(ALERT, secret(), "withdrawn", at)
    assert not any(part in _text(hidden) for part in CONTENT)
    assert "cơ quan giao đã rút nhiệm vụ" in hidden["message_vi"] and wording.OPEN_DONDOC in hidden["message_vi"]
