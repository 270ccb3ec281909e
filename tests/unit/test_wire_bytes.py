"""The wire format is a contract (DESIGN §3): audit chains the bytes as the log holds them and the relay
publishes the outbox's stored bytes, so a faster codec (issue 14) must write every event byte for byte as
the first one did, ``json.dumps`` over ``model_dump(mode="json")`` (``first_encoding`` below), and read
every text as ``json.loads`` did."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from events.codec import _parsed, decode, encode_value
from events.envelope import Actor, Envelope, EventPayload, deterministic_id, new_envelope
from events.registry import EVENT_TYPES
from events.reports import ReportPublished
from events.tasks import ProgressReported
from tests.unit.test_codec import VI, build, envelope_of

registered = pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: f"{c.event_type}.v{c.schema_version}")

# Everything json.dumps escapes (quotes, backslash, the control characters short and long) or leaves raw
# that a writer might not (DEL, U+2028, an emoji, combining marks, '/').
AWKWARD = 'a"b\\c/d\ne\tf\rg\bh\fi\x01j\x1fk\x7fl\u2028m\u2029n😀o\u0301 «Đ» </script>'


def first_encoding(envelope: Envelope) -> bytes:
    """How events/codec.py encoded every event before issue 14's round 5."""
    return json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


@registered
@pytest.mark.parametrize("text", [VI, AWKWARD, "x"], ids=["vietnamese", "awkward", "ascii"])
def test_every_event_type_is_encoded_byte_for_byte_as_before(cls: type[EventPayload], text: str) -> None:
    envelope = envelope_of(build(cls, text), text)
    assert encode_value(envelope) == first_encoding(envelope)


def test_an_envelope_with_every_optional_field_set_is_encoded_as_before() -> None:
    cause = envelope_of(ProgressReported(percent=5, note="Bắt đầu"))
    envelope = new_envelope(
        ProgressReported(percent=40, note=AWKWARD),
        event_id=deterministic_id("wire-bytes", "full"),
        occurred_at=datetime(2031, 3, 2, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=7))),
        effective_at=datetime(2031, 3, 1, 23, 59, tzinfo=UTC),
        producer="progress",
        actor=Actor(agency_id="sở-gd", person_id="nguyễn-văn-a"),
        task_id="131/NQ-CP#1",
        cause=cause,
    )
    assert encode_value(envelope) == first_encoding(envelope)


def test_the_bytes_of_a_fixed_event_never_change() -> None:
    """Pinned literally, so the contract does not hang on json.dumps or pydantic staying as they are."""
    envelope = new_envelope(
        ProgressReported(percent=40, note='Đang triển khai "bước 2"\n'),
        event_id=deterministic_id("wire-bytes", "fixed"),
        occurred_at=datetime(2031, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=7))),
        producer="progress",
        actor=Actor(agency_id="ubnd-bd", person_id="người-1"),
        task_id="131/NQ-CP#13",
    )
    assert (
        encode_value(envelope)
        == (
            '{"event_id":"8b25f36c-441d-5a4d-9763-068d596398fb","event_type":"ProgressReported","schema_version":1,'
            '"occurred_at":"2031-03-02T08:00:00+07:00","producer":"progress",'
            '"actor":{"agency_id":"ubnd-bd","person_id":"người-1"},"task_id":"131/NQ-CP#13",'
            '"correlation_id":"8b25f36c-441d-5a4d-9763-068d596398fb","causation_id":null,'
            '"payload":{"percent":40,"note":"Đang triển khai \\"bước 2\\"\\n"}}'
        ).encode()
    )


safe_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(cls=st.sampled_from(EVENT_TYPES), text=safe_text)
def test_any_text_in_any_event_is_encoded_as_before(cls: type[EventPayload], text: str) -> None:
    try:
        envelope = envelope_of(build(cls, text), text)
    except ValidationError:  # a field with a pattern or a minimum length refuses this text: not an event
        reject()
    assert encode_value(envelope) == first_encoding(envelope)


@settings(max_examples=300, deadline=None)
@given(share=st.floats(), previous=st.none() | st.floats())
def test_a_report_with_any_float_is_encoded_as_before(share: float, previous: float | None) -> None:
    """pydantic writes 1e-07 as 1e-7 and NaN as null: an event with a float keeps json.dumps."""
    report = build(ReportPublished).model_copy(
        update={"overdue_share_percent": share, "previous_overdue_share_percent": previous}
    )
    envelope = envelope_of(report)
    assert encode_value(envelope) == first_encoding(envelope)


def test_a_lone_surrogate_in_an_unchecked_field_fails_to_encode_as_before() -> None:
    envelope = envelope_of(ProgressReported(percent=1)).model_copy(update={"task_id": "x\ud800"})
    with pytest.raises(UnicodeEncodeError):
        first_encoding(envelope)
    with pytest.raises(UnicodeEncodeError):
        encode_value(envelope)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and an int never equal to a float."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=500, deadline=None)
@given(value=json_values, indent=st.none() | st.integers(0, 2))
def test_a_text_without_escapes_is_read_as_json_loads_reads_it(value: Any, indent: int | None) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    if "\\" in text:  # only escape-free texts take pydantic's parser
        return
    assert same(_parsed(text.encode(), text), json.loads(text))


@settings(max_examples=500, deadline=None)
@given(
    number=st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
    | st.sampled_from(["NaN", "Infinity", "-Infinity", "1E400", "-0", "-0.0", "9" * 4300, "01", "1.", "+1"])
)
def test_every_number_is_read_as_json_loads_reads_it_or_refused_by_it(number: str) -> None:
    text = '{"n":' + number + ',"n":' + number + "}"
    try:
        expected = json.loads(text)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            _parsed(text.encode(), text)
        return
    assert same(_parsed(text.encode(), text), expected)


@registered
def test_every_event_type_decodes_the_same_through_either_parser(cls: type[EventPayload]) -> None:
    """Escaped (json.loads and the NFC walk) or not (pydantic's parser): the same envelope."""
    wire = encode_value(envelope_of(build(cls)))
    escaped = json.dumps(json.loads(wire), ensure_ascii=True, separators=(",", ":")).encode()
    assert b"\\u" in escaped
    assert decode(wire) == decode(escaped)


def test_the_same_dates_and_times_are_written_as_before() -> None:
    """Aware times of any offset, with and without microseconds: what pydantic writes itself, both ways."""
    base = envelope_of(ProgressReported(percent=3))
    for when in (
        datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(2031, 6, 1, 12, 0, 0, 500, tzinfo=timezone(timedelta(hours=7))),
    ):
        envelope = base.model_copy(update={"occurred_at": when, "effective_at": when})
        assert encode_value(envelope) == first_encoding(envelope)
