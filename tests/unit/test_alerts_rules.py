"""Rules of the alerts service, pure: identity, recipients, repeats, digest time, wording,
webhook signatures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy

from events.clock import VN_TZ
from events.tasks import SourceDocument, TaskTransferred
from services.alerts import wording
from services.alerts.channels import signing
from services.alerts.channels.email import build_message
from services.alerts.domain import (
    AgencyInfo,
    Recipient,
    alert_id,
    next_digest,
    next_repeat,
    recipients,
    threshold,
)
from tests.fakes import alerts as fake_alerts

TASK = fake_alerts.a_task("t-1")
DIRECTORY = {
    "bd-sgddt": AgencyInfo("p-gd-head"),
    "bd-stc": AgencyInfo("p-tc-head"),
    "ubnd-bd": AgencyInfo("p-ubnd-head", ("bd-vp",)),
    "bd-vp": AgencyInfo("p-vp-head"),
}


def test_there_is_one_alert_per_task_kind_threshold_and_recipient() -> None:
    first = alert_id("t-1", "overdue", threshold("overdue", date(2022, 11, 30)), "p-1")
    assert first == alert_id("t-1", "overdue", "2022-11-30:overdue", "p-1")  # however often it is raised
    assert first != alert_id("t-1", "overdue", "2022-11-30:overdue", "p-2")
    assert first != alert_id("t-1", "overdue", "2022-12-31:overdue", "p-1")  # a new deadline, a new alert
    assert threshold("approaching", date(2022, 11, 30), 3) == "2022-11-30:3wd"


def test_the_officer_and_the_lead_head_are_alerted_and_coordinating_heads_informed() -> None:
    assert recipients("assigned", TASK, DIRECTORY) == [
        Recipient("p-officer", "officer", "bd-sgddt"),
        Recipient("p-gd-head", "head", "bd-sgddt"),
        Recipient("p-tc-head", "coordinator", "bd-stc"),
    ]
    assert [r.role for r in recipients("approaching", TASK, DIRECTORY)] == ["officer", "head"]
    assert [r.role for r in recipients("overdue", TASK, DIRECTORY)] == ["officer", "head", "coordinator"]


def test_escalation_goes_to_the_assigning_head_and_its_tracking_office() -> None:
    assert recipients("escalated", TASK, DIRECTORY) == [
        Recipient("p-ubnd-head", "escalation", "ubnd-bd"),
        Recipient("p-vp-head", "escalation", "bd-vp"),
    ]


def test_a_secret_tasks_escalation_skips_the_tracking_office_which_is_not_involved() -> None:
    # The access rule (services/runtime/access.py): an alert names its task, so only the involved hear of it.
    for classification in ("mat", None):
        secret = replace(TASK, classification=classification)
        assert recipients("escalated", secret, DIRECTORY) == [Recipient("p-ubnd-head", "escalation", "ubnd-bd")]
        assert [r.role for r in recipients("overdue", secret, DIRECTORY)] == ["officer", "head", "coordinator"]


def test_without_directory_data_only_the_officer_is_alerted_and_nobody_twice() -> None:
    assert recipients("assigned", TASK, {}) == [Recipient("p-officer", "officer", "bd-sgddt")]
    head_is_officer = {"bd-sgddt": AgencyInfo("p-officer")}
    assert recipients("overdue", TASK, head_is_officer) == [Recipient("p-officer", "officer", "bd-sgddt")]
    assert recipients("escalated", TASK, {}) == []


def test_overdue_repeats_keep_their_cadence_and_never_replay_a_backlog() -> None:
    start, hour = datetime(2022, 12, 1, 0, 0, tzinfo=VN_TZ), timedelta(hours=1)
    assert next_repeat(start, start + timedelta(minutes=5), hour) == start + hour
    assert next_repeat(start, start + timedelta(hours=10, minutes=1), hour) == start + 11 * hour


def test_the_digest_is_sent_at_its_time_each_day() -> None:
    assert next_digest(datetime(2022, 11, 4, 6, 0, tzinfo=VN_TZ), time(7, 30)) == datetime(
        2022, 11, 4, 7, 30, tzinfo=VN_TZ
    )
    assert next_digest(datetime(2022, 11, 4, 9, 0, tzinfo=VN_TZ), time(7, 30)) == datetime(
        2022, 11, 5, 7, 30, tzinfo=VN_TZ
    )


def test_an_alert_says_the_task_its_document_the_deadline_the_days_and_what_to_do() -> None:
    today = date(2022, 11, 21)
    approaching = wording.message(
        "approaching", "officer", TASK, due=date(2022, 11, 30), today=today, working_days_left=7
    )
    for part in (
        "«Triển khai thanh toán học phí trực tuyến»",
        "131/NQ-CP#13",
        "văn bản số 131/NQ-CP ngày 06/10/2022 của Chính phủ",
        "hạn 30/11/2022",
        "Tháng 11/2022",
        "Còn 7 ngày làm việc",
        "Việc cần làm",
    ):
        assert part in approaching, part
    overdue = wording.message("overdue", "head", TASK, due=date(2022, 11, 30), today=date(2022, 12, 3))
    assert "đã quá hạn 3 ngày, quá hạn từ ngày 01/12/2022" in overdue and "đề xuất gia hạn" in overdue
    informed = wording.message("overdue", "coordinator", TASK, due=date(2022, 11, 30), today=date(2022, 12, 3))
    assert "Để biết và phối hợp" in informed
    again = wording.message("overdue", "officer", TASK, due=date(2022, 11, 30), today=date(2022, 12, 3), reminder=2)
    assert again.startswith("[Nhắc lại lần 2]")


def test_a_transferred_task_tells_the_successor_the_decision_its_role_and_what_to_do() -> None:
    transfer = TaskTransferred(
        reorganisation_id="nq-202",
        decision=SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội"),
        effective_on=date(2025, 7, 1),
        from_agency_id="ubnd-bd",
        to_agency_id="ubnd-gia-lai",
        role="chu-tri",
    )
    moved = replace(TASK, lead_agency_id="ubnd-gia-lai", officer_in_charge_id=None)
    text = wording.message(
        "transferred", "head", moved, due=date(2025, 12, 31), today=date(2025, 7, 15), transfer=transfer
    )
    for part in (
        "Nhiệm vụ được chuyển giao cho cơ quan của đồng chí",
        "văn bản số 202/2025/QH15 ngày 12/06/2025 của Quốc hội",
        "từ ngày 01/07/2025 cơ quan của đồng chí chủ trì",
        "thay ubnd-bd",
        "phân công cán bộ phụ trách",
    ):
        assert part in text, part
    coordinating = transfer.model_copy(update={"role": "phoi-hop"})
    informed = wording.message(
        "transferred", "coordinator", moved, due=None, today=date(2025, 7, 15), transfer=coordinating
    )
    assert "cơ quan của đồng chí phối hợp thực hiện" in informed
    assert wording.subject("transferred", TASK.title).startswith("[dondoc] Chuyển giao nhiệm vụ:")


def test_only_the_successors_people_are_candidates_for_a_transfer_alert() -> None:
    moved = replace(TASK, coordinating_agency_ids=("bd-stc",), officer_in_charge_id=None)
    assert recipients("transferred", moved, DIRECTORY) == [
        Recipient("p-gd-head", "head", "bd-sgddt"),
        Recipient("p-tc-head", "coordinator", "bd-stc"),
    ]  # raise_alerts keeps those of the agency the task moved to


def test_a_daily_digest_lists_each_approaching_task() -> None:
    subject, text = wording.digest(
        date(2022, 11, 21),
        [
            fake_alerts.a_digest_item(replace(TASK, due=date(2022, 11, 30)), "p-officer", 7),
            fake_alerts.a_digest_item(replace(TASK, code="131/NQ-CP#14", due=date(2022, 12, 15)), "p-officer", 18),
        ],
    )
    assert subject == "[dondoc] Tổng hợp nhiệm vụ sắp đến hạn ngày 21/11/2022"
    assert "2 nhiệm vụ" in text and "1. «" in text and "2. «" in text and "còn 18 ngày làm việc" in text


def test_a_webhook_signature_covers_the_body_and_its_time() -> None:
    body, now = b'{"alert_id": "a"}', 1_700_000_000
    header = signing.sign("s" * 32, body, now)
    assert signing.verify("s" * 32, body, header, now=now + 10)
    assert not signing.verify("s" * 32, body + b" ", header, now=now)  # tampered
    assert not signing.verify("x" * 32, body, header, now=now)  # another agency's secret
    assert not signing.verify("s" * 32, body, header, now=now + 3600)  # replayed later


def test_every_subject_survives_mime_header_encoding() -> None:
    # The stdlib's modern header folder drops spaces between encoded words: officials would read
    # "thanh toánhọc phí". What the e-mail channel builds must decode to exactly the subject.
    subjects = [
        wording.subject(kind, TASK.title, reminder)
        for kind in ("assigned", "approaching", "overdue", "escalated", "transferred")
        for reminder in (0, 2)
    ]
    subjects.append(wording.digest(date(2022, 11, 21), [])[0])
    for text in subjects:
        message = build_message("dondoc@localhost", "p@example.vn", text, "Nội dung", "d-1")
        assert message_from_bytes(message.as_bytes(), policy=policy.default)["Subject"] == text
