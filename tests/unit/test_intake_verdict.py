"""The one verdict on an intake record that both readers of dondoc.intake share (events/intake_verdict.py):
signature, timestamp against the broker's append time, body; and which service answers the record."""

from __future__ import annotations

import json
import time

import pytest

from events.intake import (
    AGENCY_HEADER,
    KEY_ID_HEADER,
    REPLAY_WINDOW_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signed_headers,
    signing_key,
)
from events.intake_verdict import Command, Refusal, claimed_agency, for_progress, verdict
from services.runtime.raw_consumer import RawRecord

SECRET = "a-secret-of-sixteen+"
KEY = signing_key(SECRET, "bd-sgddt", "k1")
SIGNED_AT = 1_795_000_000
APPENDED_MS = SIGNED_AT * 1000 + 1500
ASSIGN = json.dumps({"command_type": "AssignTask", "command_id": "c1", "payload": {}}).encode()
PROGRESS = json.dumps({"command_type": "ReportProgress", "command_id": "c2", "payload": {"percent": 5}}).encode()


def record(
    body: bytes = ASSIGN,
    headers: list[tuple[str, bytes]] | None = None,
    *,
    key: bytes | None = b"bd-sgddt",
    appended_ms: int | None = APPENDED_MS,
) -> RawRecord:
    if headers is None:
        headers = signed_headers(KEY, "bd-sgddt", "k1", body, SIGNED_AT)
    return RawRecord("dondoc.intake", 0, 7, key, body, tuple(headers), appended_ms)


def stamped(timestamp: str, body: bytes = PROGRESS) -> RawRecord:
    """Validly signed over ``timestamp`` exactly as written, whatever it is."""
    headers = [
        (AGENCY_HEADER, b"bd-sgddt"),
        (KEY_ID_HEADER, b"k1"),
        (TIMESTAMP_HEADER, timestamp.encode()),
        (SIGNATURE_HEADER, signature(KEY, timestamp, body).encode()),
    ]
    return record(body, headers)


def refused(judged: Command | Refusal) -> str:
    assert isinstance(judged, Refusal), judged
    return judged.code


def test_a_signed_fresh_command_is_read_with_its_agency_and_key() -> None:
    assert verdict(record(), SECRET) == Command("bd-sgddt", "k1", "AssignTask", "c1", {})


def test_missing_signature_headers_are_named() -> None:
    judged = verdict(record(headers=[]), SECRET)
    assert isinstance(judged, Refusal) and judged.code == "missing-signature"
    assert "dondoc-signature" in judged.message_en


def test_a_changed_body_breaks_the_signature() -> None:
    headers = signed_headers(KEY, "bd-sgddt", "k1", ASSIGN, SIGNED_AT)
    assert refused(verdict(record(ASSIGN.replace(b"c1", b"c9"), headers), SECRET)) == "bad-signature"


def test_another_agencys_key_breaks_the_signature() -> None:
    other = signing_key(SECRET, "bd-stc", "k1")
    assert refused(verdict(record(headers=signed_headers(other, "bd-sgddt", "k1", ASSIGN, SIGNED_AT)), SECRET)) == (
        "bad-signature"
    )


def test_a_signature_header_that_is_not_ascii_is_a_bad_signature_not_a_crash() -> None:
    headers = [*signed_headers(KEY, "bd-sgddt", "k1", ASSIGN, SIGNED_AT)[:3], (SIGNATURE_HEADER, "v1=chữ".encode())]
    assert refused(verdict(record(headers=headers), SECRET)) == "bad-signature"


@pytest.mark.parametrize("offset_s", [-REPLAY_WINDOW_S, 0, REPLAY_WINDOW_S])
def test_a_command_signed_within_the_window_of_its_arrival_at_the_broker_is_fresh(offset_s: int) -> None:
    judged = verdict(record(appended_ms=(SIGNED_AT + offset_s) * 1000), SECRET)
    assert isinstance(judged, Command)


@pytest.mark.parametrize("offset_ms", [-REPLAY_WINDOW_S * 1000 - 1, REPLAY_WINDOW_S * 1000 + 1, 3_600_000])
def test_a_command_signed_outside_the_window_of_its_arrival_at_the_broker_is_stale(offset_ms: int) -> None:
    judged = verdict(record(PROGRESS, appended_ms=SIGNED_AT * 1000 + offset_ms), SECRET)
    assert refused(judged) == "timestamp-out-of-window" and not for_progress(judged)


def test_the_verdict_does_not_depend_on_when_the_record_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Signed and appended years ago (the reader was down): judged as on arrival. A stale one stays stale.
    late, stale = record(PROGRESS), record(PROGRESS, appended_ms=(SIGNED_AT + REPLAY_WINDOW_S + 1) * 1000)
    before = verdict(late, SECRET), verdict(stale, SECRET)
    for now in (0.0, SIGNED_AT + REPLAY_WINDOW_S + 1.0, time.time() + 10 * 365 * 86400):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        assert (verdict(late, SECRET), verdict(stale, SECRET)) == before
    assert for_progress(before[0]) and refused(before[1]) == "timestamp-out-of-window"


def test_a_record_without_a_broker_timestamp_is_stale_for_everyone() -> None:
    assert refused(verdict(record(PROGRESS, appended_ms=None), SECRET)) == "timestamp-out-of-window"
    assert refused(verdict(record(PROGRESS, appended_ms=-1), SECRET)) == "timestamp-out-of-window"


@pytest.mark.parametrize(
    "timestamp",
    # int() reads each of these; none is what the protocol calls Unix seconds.
    [
        f" {SIGNED_AT}",
        f"+{SIGNED_AT}",
        f"{SIGNED_AT}_0",
        f"1795_{str(SIGNED_AT)[4:]}",
        f"{SIGNED_AT} ",
        f"{SIGNED_AT}\n",
        "١٧٩٥٠٠٠٠٠٠",
        "²",
        f"{SIGNED_AT}.0",
        "-1",
        "9" * 5000,
    ],
)
def test_a_timestamp_that_is_not_plain_ascii_digits_is_refused(timestamp: str) -> None:
    judged = verdict(stamped(timestamp), SECRET)
    assert isinstance(judged, Refusal) and judged.code == "timestamp-out-of-window"
    assert "Unix seconds" in judged.message_en


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "malformed-json"),
        (b"\xff\xfe", "malformed-json"),
        (b"\xef\xbb\xbf" + PROGRESS, "malformed-json"),  # a byte-order mark: not strict UTF-8 JSON
        (b'{"command_type": "ReportProgress", "command_id": "\xed\xa0\x80", "payload": {}}', "malformed-json"),
        (b"", "malformed-json"),
        (b"[1, 2]", "malformed-json"),
        (b"[" * 100_000, "malformed-json"),
        (
            json.dumps({"command_type": "DeleteEverything", "command_id": "c", "payload": {}}).encode(),
            "unknown-command-type",
        ),
        (
            json.dumps({"command_type": ["ReportProgress"], "command_id": "c", "payload": {}}).encode(),
            "unknown-command-type",
        ),
        (json.dumps({"command_type": "ReportProgress", "payload": {}}).encode(), "invalid-command"),
        (json.dumps({"command_type": "ReportProgress", "command_id": "", "payload": {}}).encode(), "invalid-command"),
        (
            json.dumps({"command_type": "ReportProgress", "command_id": "c" * 201, "payload": {}}).encode(),
            "invalid-command",
        ),
        (json.dumps({"command_type": "ReportProgress", "command_id": 7, "payload": {}}).encode(), "invalid-command"),
        (json.dumps({"command_type": "ReportProgress", "command_id": "c", "payload": []}).encode(), "invalid-command"),
    ],
)
def test_bodies_that_are_not_commands_are_refused_with_a_code(body: bytes, expected: str) -> None:
    judged = verdict(record(body), SECRET)
    assert refused(judged) == expected and not for_progress(judged)


def test_a_command_id_of_the_longest_length_is_a_command() -> None:
    body = json.dumps({"command_type": "ReportProgress", "command_id": "c" * 200, "payload": {}}).encode()
    assert for_progress(verdict(record(body), SECRET))


@pytest.mark.parametrize(
    ("judged", "progress_answers"),
    [
        (record(PROGRESS), True),
        (record(ASSIGN), False),  # the assignment service's own command
        (record(PROGRESS, headers=[]), False),  # every refusal is the assignment service's to answer
        (stamped(f"+{SIGNED_AT}"), False),
        (record(PROGRESS, appended_ms=(SIGNED_AT + 301) * 1000), False),
        (record(b"\xef\xbb\xbf" + PROGRESS), False),
    ],
)
def test_each_record_is_answered_by_exactly_one_service(judged: RawRecord, progress_answers: bool) -> None:
    assert for_progress(verdict(judged, SECRET)) is progress_answers


def test_the_submitting_agency_comes_from_the_header_else_the_key() -> None:
    assert claimed_agency(record()) == "bd-sgddt"
    assert claimed_agency(record(headers=[], key=b"bd-stc")) == "bd-stc"
    assert claimed_agency(record(headers=[], key=None)) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"command_type": "AssignTask", "command_id": "\\ud800", "payload": {}}',  # an escaped lone surrogate
        b'{"command_type": "AssignTask", "command_id": "c", "payload": {"title": ["\\udfff"]}}',
        b'{"command_type": "AddNote", "command_id": "c", "payload": {"\\ud83d": 1}}',  # in a key
        b'{"command_type": "AssignTask", "command_id": "c\\u0000", "payload": {}}',
        b'{"command_type": "AddNote", "command_id": "c", "payload": {"note": "a\\u0000b"}}',
    ],
)
def test_text_no_database_can_store_is_refused_by_the_verdict_not_crashed_on_later(body: bytes) -> None:
    # Found by tests/integration/test_fuzz_intake.py: such a body reached PostgreSQL, failed on every retry
    # and was answered 'internal-error'.
    judged = verdict(record(body), SECRET)
    assert refused(judged) == "malformed-json" and not for_progress(judged)


def test_a_claimed_agency_is_storable_and_bounded_whatever_the_header_holds() -> None:
    garbage = [(AGENCY_HEADER, b"bd\x00" + b"x" * 10_000)]
    claimed = claimed_agency(record(headers=garbage))
    assert claimed is not None and "\x00" not in claimed and len(claimed) <= 200


def test_a_refusal_quotes_a_large_value_back_clipped() -> None:
    huge = json.dumps({"command_type": "ạ" * 50_000, "command_id": "c", "payload": {}}).encode()
    judged = verdict(record(huge), SECRET)
    assert isinstance(judged, Refusal) and judged.code == "unknown-command-type"
    assert len(judged.message_en) < 500 and len(judged.message_vi) < 300
