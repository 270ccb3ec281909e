"""The codec (events/codec.py): every registered event type survives the wire with its Vietnamese text,
NFD input comes out NFC, a malformed record fails with a DecodeError that says what is wrong, and
deterministic ids never change.

Samples are built from each payload's fields, so an event type added to the registry is covered
without touching this file; a field the builder cannot fill names itself in the failure."""

from __future__ import annotations

import json
import types
import unicodedata
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import pytest
from annotated_types import Ge, Le
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from events.clock import VN_TZ
from events.codec import DecodeError, decode, encode_value, headers_for, key_for, to_record
from events.deadlines import Deadline
from events.envelope import EVENT_ID_NAMESPACE, Actor, Envelope, EventPayload, deterministic_id, new_envelope
from events.registry import EVENT_TYPES
from events.tasks import ProgressReported
from events.text import nfc

VI = "Sở Giáo dục và Đào tạo tỉnh Bình Dương – “Đẩy mạnh chuyển đổi số”, ưu tiên trường học"
WHEN = datetime(2022, 11, 30, 16, 45, tzinfo=VN_TZ)

# Fields whose value the builder cannot guess from the type alone.
OVERRIDES: dict[str, Any] = {"month": "2022-11"}
BY_TYPE: dict[Any, Any] = {
    Deadline: lambda text: Deadline(kind="fixed", due=date(2022, 11, 30), text=f"Tháng 11/2022 ({text})"),
}


def sample(annotation: Any, info: FieldInfo | None, text: str, where: str) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return sample(args[0], info, text, where)
    if origin in (Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)), info, text, where)
    if origin is Literal:
        return args[-1]
    if origin is tuple:
        return (sample(args[0], None, text, where),)
    if annotation in BY_TYPE:
        return BY_TYPE[annotation](text)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return build(annotation, text)
    metadata = info.metadata if info else []
    low, high = 0, 10_000
    for m in metadata:  # annotated_types types the bounds as protocols; here they are ints
        low = cast(int, m.ge) if isinstance(m, Ge) else low
        high = cast(int, m.le) if isinstance(m, Le) else high
    simple = {
        str: text,
        bool: True,
        int: min(max(low, 7), high),
        float: 12.5,
        date: date(2022, 11, 30),
        datetime: WHEN,
        uuid.UUID: deterministic_id("sample", where),
    }
    if annotation in simple:
        return simple[annotation]
    raise NotImplementedError(f"cannot build {where}: {annotation!r}; add it to OVERRIDES or BY_TYPE")


def build(model: type[BaseModel], text: str = VI) -> Any:
    values = {
        name: OVERRIDES[name] if name in OVERRIDES else sample(f.annotation, f, text, f"{model.__name__}.{name}")
        for name, f in model.model_fields.items()
    }
    return model(**values)


def envelope_of(payload: EventPayload, text: str = VI) -> Envelope:
    return new_envelope(
        payload,
        event_id=deterministic_id("test-codec", payload.event_type),
        occurred_at=WHEN,
        producer="assignment",
        actor=Actor(agency_id="ubnd-bd", person_id=text),
        task_id="131/NQ-CP/UBND-BD#13",
    )


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


registered = pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: f"{c.event_type}.v{c.schema_version}")


@registered
def test_every_event_type_round_trips_with_its_vietnamese_text(cls: type[EventPayload]) -> None:
    envelope = envelope_of(build(cls))
    record = to_record(envelope)

    assert (record.topic, record.key) == (cls.topic, b"131/NQ-CP/UBND-BD#13")
    assert dict(record.headers) == {
        "event_type": cls.event_type.encode(),
        "schema_version": str(cls.schema_version).encode(),
        "correlation_id": str(envelope.event_id).encode(),
    }
    assert VI.encode() in record.value  # readable UTF-8 on the wire, not \\u escapes
    decoded = decode(record.value)
    assert decoded == envelope
    assert type(decoded.payload) is cls
    assert encode_value(decoded) == record.value  # byte-stable: re-encoding changes nothing


@registered
def test_nfd_input_is_decoded_to_nfc(cls: type[EventPayload]) -> None:
    envelope = envelope_of(build(cls))
    wire = encode_value(envelope)
    as_nfd = nfd(wire.decode()).encode()
    assert as_nfd != wire
    # The same text in NFD, raw or \\u-escaped (json.dumps' default, as many producers write it).
    escaped = json.dumps(json.loads(as_nfd), ensure_ascii=True).encode()
    for variant in (as_nfd, escaped):
        decoded = decode(variant)
        assert decoded == envelope
        assert all(unicodedata.is_normalized("NFC", s) for s in strings(decoded.model_dump(mode="json")))


@registered
def test_nfd_text_given_to_a_payload_is_stored_and_sent_as_nfc(cls: type[EventPayload]) -> None:
    """Text typed as NFCStr is normalised when the model is built, before it ever reaches the outbox."""
    from_nfd, from_nfc = build(cls, nfd(VI)), build(cls, VI)
    nfc_fields = [
        name
        for name, f in cls.model_fields.items()
        if any(getattr(m, "func", None) is nfc for m in f.metadata) and isinstance(getattr(from_nfc, name), str)
    ]
    for name in nfc_fields:
        assert getattr(from_nfd, name) == getattr(from_nfc, name), name


def test_the_key_is_the_task_then_an_explicit_fallback_then_the_agency() -> None:
    payload = ProgressReported(percent=40, note="Đang triển khai")
    with_task = envelope_of(payload)
    without = with_task.model_copy(update={"task_id": None})
    assert key_for(with_task) == b"131/NQ-CP/UBND-BD#13"
    assert key_for(without, "report-2022-11") == b"report-2022-11"
    assert key_for(without) == b"ubnd-bd"
    assert to_record(with_task, key="người-nhận").key == "người-nhận".encode()
    assert ("traceparent", b"00-abc-01") in headers_for(with_task, "00-abc-01")


GOOD = json.loads(encode_value(envelope_of(ProgressReported(percent=40, note="Đang triển khai"))))


def with_(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}, ensure_ascii=False).encode()


MALFORMED: list[tuple[str, bytes | None, str]] = [
    ("none", None, "empty message: a dondoc envelope (JSON object) is expected"),
    ("empty", b"", "empty message: a dondoc envelope (JSON object) is expected"),
    ("not utf-8", b'{"note": "\xff"}', "message is not UTF-8 text (invalid start byte at byte 10)"),
    (
        "not json",
        b"{event_type: TaskAssigned}",
        "message is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
    ),
    ("truncated", encode_value(envelope_of(ProgressReported(percent=1)))[:-3], "message is not valid JSON"),
    ("nested too deep", b"[" * 100_000, "message is nested too deeply to be an envelope"),
    ("a number too long", b'{"schema_version": ' + b"1" * 5000 + b"}", "message holds a number too long to read"),
    ("a list", b"[1, 2]", "message is JSON list, expected an envelope object"),
    ("a string", '"xin chào"'.encode(), "message is JSON str, expected an envelope object"),
    ("no event_type", b"{}", "envelope needs a string 'event_type' and an integer 'schema_version'"),
    (
        "version as text",
        with_(schema_version="1"),
        "envelope needs a string 'event_type' and an integer 'schema_version'",
    ),
    ("unknown type", with_(event_type="TaskTeleported"), "unknown event type 'TaskTeleported' version 1"),
    ("unknown version", with_(schema_version=99), "unknown event type 'ProgressReported' version 99"),
    (
        "payload missing",
        with_(payload=None),
        "invalid ProgressReported v1: payload: Input should be a valid dictionary",
    ),
    (
        "payload field out of range",
        with_(payload={"percent": 150}),
        "invalid ProgressReported v1: payload.percent: Input should be less than or equal to 100",
    ),
    (
        "payload field missing",
        with_(payload={"note": "thiếu phần trăm"}),
        "invalid ProgressReported v1: payload.percent: Field required",
    ),
    (
        "naive time",
        with_(occurred_at="2022-11-30T16:45:00"),
        "invalid ProgressReported v1: occurred_at: Input should have timezone info",
    ),
    (
        "bad event id",
        with_(event_id="not-a-uuid"),
        "invalid ProgressReported v1: event_id: Input should be a valid UUID",
    ),
    (
        "no actor",
        json.dumps({k: v for k, v in GOOD.items() if k != "actor"}).encode(),
        "invalid ProgressReported v1: actor: Field required",
    ),
]


@pytest.mark.parametrize(
    ("value", "message"), [(v, m) for _, v, m in MALFORMED], ids=[case for case, _, _ in MALFORMED]
)
def test_a_malformed_record_fails_with_a_decode_error_saying_what_is_wrong(value: bytes | None, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(value)
    assert str(caught.value).startswith(message), str(caught.value)


def test_deterministic_ids_never_change() -> None:
    """Pinned: a change here re-identifies every event already in Kafka and every inbox."""
    assert EVENT_ID_NAMESPACE == uuid.UUID("7d1f6a52-3c5e-4b0e-9a55-0d0d0c0d0c00")
    task = "131/NQ-CP/UBND-BD#13"
    assert deterministic_id("assignment", "TaskAssigned", task, "k-1") == uuid.UUID(PINNED_ASSIGNED)
    assert deterministic_id("timer", "overdue", task, "2022-11-30") == uuid.UUID(PINNED_TIMER)
    assert deterministic_id("ab", "c") != deterministic_id("a", "bc")  # parts are separated, not concatenated
    assert deterministic_id(1, None) == deterministic_id("1", "None")  # parts are compared as text


def test_an_event_caused_by_another_joins_its_correlation_chain() -> None:
    cause = envelope_of(ProgressReported(percent=40))
    effect = new_envelope(
        ProgressReported(percent=50),
        event_id=deterministic_id(cause.event_id, "x"),
        occurred_at=WHEN,
        producer="alerts",
        actor=cause.actor,
        task_id=cause.task_id,
        cause=cause,
    )
    assert (effect.correlation_id, effect.causation_id) == (cause.correlation_id, cause.event_id)
    assert (cause.correlation_id, cause.causation_id) == (cause.event_id, None)


PINNED_ASSIGNED = "88d556d7-9787-5a1f-b657-5492425b76da"
PINNED_TIMER = "93031e63-47c6-5674-b251-d6ba4e82d58a"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_every_string_decoded_is_nfc_whatever_text_surrounds_it(text: str) -> None:
    """decode skips the walk over the strings when the whole text is NFC with no escapes: any text put
    raw in a field, NFC or not, beside Vietnamese or alone, still comes out exactly as its NFC."""
    raw = json.loads(encode_value(envelope_of(ProgressReported(percent=10, note="x"))))
    raw["payload"]["note"] = text + VI
    raw["producer"] = text or "p"
    wire = json.dumps(raw, ensure_ascii=False).encode()
    decoded = decode(wire)
    assert decoded.payload.note == nfc(text + VI)  # type: ignore[union-attr]
    assert all(unicodedata.is_normalized("NFC", s) for s in strings(decoded.model_dump(mode="json")))
