"""Two times per fact (events/effective.py): the effective time a document gives, the recorded time of the event."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import HTTPException

from events.clock import VN_TZ
from events.codec import decode, encode_value
from events.effective import EffectiveTimeRefused, effective_at, effective_day, start_of
from events.envelope import SYSTEM, new_envelope
from events.tasks import ProgressReported
from services.assignment.tasks.assign import _assigned_on
from services.assignment.tasks.commands import AssignTask
from services.assignment.tasks.rules import command_hash, effective
from services.reporting.adapters import late
from services.reporting.export import moment_vi
from services.reporting.queries.ledger import EXTRA_LEAD, note
from services.reporting.queries.sql import valid_at
from services.reporting.routes import filters_of, moment_of
from services.runtime.refusals import Refused
from tests.unit.test_reports import report_body

RECORDED = datetime(2023, 2, 15, 9, 30, tzinfo=VN_TZ)


def test_a_document_day_before_the_recording_day_takes_effect_at_the_start_of_that_day() -> None:
    assert effective_at(date(2022, 11, 21), RECORDED) == datetime(2022, 11, 21, tzinfo=VN_TZ)


def test_no_day_or_the_recording_day_itself_means_the_recorded_time() -> None:
    assert effective_at(None, RECORDED) is None
    assert effective_at(date(2023, 2, 15), RECORDED) is None
    assert effective_day(None, RECORDED) == date(2023, 2, 15)


def test_the_recording_day_is_judged_in_vietnam_not_utc() -> None:
    # 00:30 on 16/02 in Hà Nội is still 15/02 in UTC: the 16th is today, not the future.
    recorded = datetime(2023, 2, 16, 0, 30, tzinfo=VN_TZ)
    assert effective_at(date(2023, 2, 16), recorded) is None


def test_an_effective_day_in_the_future_is_refused_in_both_languages() -> None:
    with pytest.raises(EffectiveTimeRefused) as refused:
        effective_at(date(2023, 2, 16), RECORDED)
    assert refused.value.code == "effective-date-in-future"
    assert "2023-02-16" in refused.value.message and "16/02/2023" in refused.value.message_vi


def test_an_effective_day_before_the_parents_is_refused_in_both_languages() -> None:
    with pytest.raises(EffectiveTimeRefused) as refused:
        effective_at(date(2022, 11, 20), RECORDED, not_before=date(2022, 11, 21))
    assert refused.value.code == "effective-date-before-parent"
    assert "21/11/2022" in refused.value.message_vi
    assert effective_at(date(2022, 11, 21), RECORDED, not_before=date(2022, 11, 21)) == start_of(date(2022, 11, 21))


def _envelope(effective: datetime | None) -> bytes:
    event = new_envelope(
        ProgressReported(percent=10),
        event_id=uuid.UUID(int=1),
        occurred_at=RECORDED,
        producer="progress",
        actor=SYSTEM,
        task_id="t-1",
        effective_at=effective,
    )
    return encode_value(event)


def test_an_event_without_an_effective_time_serialises_as_before_the_field_existed() -> None:
    assert "effective_at" not in json.loads(_envelope(None))
    assert decode(_envelope(None)).effective == RECORDED


def test_an_effective_time_travels_on_the_envelope_and_is_what_counts() -> None:
    value = _envelope(start_of(date(2022, 11, 21)))
    event = decode(value)
    assert event.effective == datetime(2022, 11, 21, tzinfo=VN_TZ)
    assert event.occurred_at == RECORDED


# --- where assignment takes the effective day from ---------------------------------------------------

RESOLUTION = {"number": "131/NQ-CP", "issued_on": "2022-10-06", "issuer": "Chính phủ"}
LETTER = {"number": "6958/UBND-KSTT", "issued_on": "2022-11-21", "issuer": "UBND tỉnh Bình Định"}


def _command(**fields: object) -> AssignTask:
    return AssignTask.model_validate(
        {
            "title": "Nhiệm vụ",
            "source_document": RESOLUTION,
            "lead_agency_id": "bd-sgddt",
            "deadline": "Quý I năm 2023",
            "idempotency_key": "k",
            **fields,
        }
    )


def test_a_task_counts_from_its_assigning_letter_unless_the_command_dates_it() -> None:
    assert _assigned_on(_command(assigning_document=LETTER)) == date(2022, 11, 21)
    assert _assigned_on(_command(assigning_document=LETTER, assigned_on="2022-11-25")) == date(2022, 11, 25)


def test_the_source_document_alone_dates_nothing() -> None:
    # An agency assigns today under a resolution of last year: it counts from today.
    assert _assigned_on(_command()) is None


def test_a_command_without_a_date_hashes_as_before_the_field_existed() -> None:
    assert "assigned_on" not in _command().model_dump_json()
    assert command_hash(_command()) == command_hash(_command(assigned_on=None))


def test_an_assignment_rule_refusal_is_the_services_bilingual_refusal() -> None:
    with pytest.raises(Refused) as refused:
        effective(date(2023, 3, 1), RECORDED)
    assert refused.value.code == "effective-date-in-future"


# --- what reporting makes of the two times ------------------------------------------------------------


def test_a_history_row_stores_a_recorded_time_only_when_it_differs() -> None:
    at = start_of(date(2022, 11, 21))
    assert late(None, at) is None and late(at, at) is None
    assert late(RECORDED, at) == RECORDED


def test_the_recorded_axis_falls_back_to_the_effective_times() -> None:
    assert valid_at("$1", as_recorded=False) == "h.valid_from <= $1 AND h.valid_to > $1"
    recorded = valid_at("$1", as_recorded=True)
    assert "coalesce(h.recorded_from, h.valid_from) <= $1" in recorded
    assert "coalesce(h.recorded_to, h.valid_to) > $1" in recorded


def test_figures_changed_after_closing_carry_the_note_and_unchanged_ones_none() -> None:
    closing = datetime(2022, 12, 31, 23, 59, tzinfo=VN_TZ)
    assert note(closing, 0) is None
    assert note(closing, 17) == {
        "closed_at": closing.isoformat(),
        "tasks": 17,
        "note_vi": "Số liệu điều chỉnh sau ngày chốt số liệu",
    }


def test_a_report_says_which_reading_it_is_and_that_its_closed_figures_changed() -> None:
    body = report_body(live=False, date="2022-12-31", as_recorded=False, adjusted=note(RECORDED, 3))
    assert moment_vi(body) == "tính đến hết ngày 31/12/2022 — Số liệu điều chỉnh sau ngày chốt số liệu"
    recorded = report_body(live=False, date="2022-12-31", as_recorded=True, adjusted=None)
    assert moment_vi(recorded) == "tính đến hết ngày 31/12/2022 (theo thời điểm ghi nhận vào dondoc)"
    assert moment_vi(report_body(live=False, date="2022-12-31")) == "tính đến hết ngày 31/12/2022"  # an older body


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("131/NQ-CP/UBND-BD#8", False),
        ("131/NQ-CP/UBND-BD#8a", False),  # the row's first lead: the row itself
        ("131/NQ-CP/UBND-BD#8b", True),
        ("131/NQ-CP/UBND-BD#4k", True),
        ("131/NQ-CP/UBND-BD#4ab", True),  # past the 26th lead
        ("131/NQ-CP/UBND-BD#13.1", False),  # a delegated part, not a lead of the row
    ],
)
def test_only_a_rows_second_and_later_leads_are_extra_lead_assignments(code: str, extra: bool) -> None:
    pattern = EXTRA_LEAD.split("'")[1]  # the SQL predicate's regular expression, the same in Python
    assert bool(re.search(pattern, code)) is extra


@pytest.mark.parametrize(
    "call",
    [
        lambda: filters_of(None, False, None, date(587, 2, 20), None, None),  # found by fuzzing: a 500 before
        lambda: filters_of(None, False, None, None, date(1899, 12, 31), None),
        lambda: moment_of(RECORDED, "0001-01-01", None),
    ],
)
def test_a_report_reaching_back_before_1900_is_refused_not_a_crash(call: Any) -> None:
    with pytest.raises(HTTPException) as refused:
        call()
    assert refused.value.status_code == 422
    assert refused.value.detail["code"] == "date-too-early"  # type: ignore[index]
    assert "01/01/1900" in refused.value.detail["message_vi"]  # type: ignore[index]


def test_a_period_reaching_past_2199_is_refused_so_its_previous_period_stays_in_the_calendar() -> None:
    with pytest.raises(HTTPException) as refused:
        filters_of(None, False, None, date(1900, 1, 1), date(9999, 12, 31), None)
    assert refused.value.detail["code"] == "date-too-late"  # type: ignore[index]
