"""Two times per fact (events/effective.py): the effective time a document gives, the recorded time of the event."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

import pytest

from events.clock import VN_TZ
from events.codec import decode, encode_value
from events.effective import EffectiveTimeRefused, effective_at, effective_day, start_of
from events.envelope import SYSTEM, new_envelope
from events.tasks import ProgressReported

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
