"""Reading intake records: signature, replay window, body (services/assignment/intake/protocol.py)."""

from __future__ import annotations

import json

import pytest

from events.intake import REPLAY_WINDOW_S, signed_headers, signing_key
from services.assignment.errors import Rejected
from services.assignment.intake import protocol
from services.runtime.raw_consumer import RawRecord

KEY = signing_key("a-secret-of-sixteen+", "bd-sgddt", "k1")
NOW = 1_700_000_000.0
BODY = json.dumps({"command_type": "AssignTask", "command_id": "c1", "payload": {}}).encode()


def record(
    body: bytes = BODY, headers: list[tuple[str, bytes]] | None = None, key: bytes | None = b"bd-sgddt"
) -> RawRecord:
    return RawRecord(
        "dondoc.intake",
        0,
        7,
        key,
        body,
        tuple(headers if headers is not None else signed_headers(KEY, "bd-sgddt", "k1", body, NOW)),
    )


def code(fn: object, *args: object) -> str:
    with pytest.raises(Rejected) as refused:
        fn(*args)  # type: ignore[operator]
    return refused.value.code


def test_a_signed_record_verifies() -> None:
    sig = protocol.signed(record())
    protocol.check_signature(KEY, sig, BODY)
    protocol.check_timestamp(sig, NOW + REPLAY_WINDOW_S)
    assert protocol.body(BODY).command_id == "c1"


def test_missing_signature_headers_are_named() -> None:
    with pytest.raises(Rejected) as refused:
        protocol.signed(record(headers=[]))
    assert refused.value.code == "missing-signature" and "dondoc-signature" in refused.value.message_en


def test_a_changed_body_breaks_the_signature() -> None:
    sig = protocol.signed(record())
    assert code(protocol.check_signature, KEY, sig, BODY.replace(b"c1", b"c2")) == "bad-signature"


def test_another_agencys_key_breaks_the_signature() -> None:
    other = signing_key("a-secret-of-sixteen+", "bd-stc", "k1")
    assert code(protocol.check_signature, other, protocol.signed(record()), BODY) == "bad-signature"


def test_an_old_or_future_timestamp_is_refused() -> None:
    sig = protocol.signed(record())
    assert code(protocol.check_timestamp, sig, NOW + REPLAY_WINDOW_S + 1) == "timestamp-out-of-window"
    assert code(protocol.check_timestamp, sig, NOW - REPLAY_WINDOW_S - 1) == "timestamp-out-of-window"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "malformed-json"),
        (b"\xff\xfe", "malformed-json"),
        (b"[1, 2]", "malformed-json"),
        (
            json.dumps({"command_type": "DeleteEverything", "command_id": "c", "payload": {}}).encode(),
            "unknown-command-type",
        ),
        (json.dumps({"command_type": "AssignTask", "payload": {}}).encode(), "invalid-command"),
        (
            json.dumps({"command_type": "AssignTask", "command_id": "c", "payload": []}).encode(),
            "invalid-command",
        ),
    ],
)
def test_bodies_that_are_not_commands_are_refused_with_a_code(body: bytes, expected: str) -> None:
    assert code(protocol.body, body) == expected


def test_the_submitting_agency_comes_from_the_header_else_the_key() -> None:
    assert protocol.claimed_agency(record()) == "bd-sgddt"
    assert protocol.claimed_agency(record(headers=[], key=b"bd-stc")) == "bd-stc"
    assert protocol.claimed_agency(record(headers=[], key=None)) is None


def test_json_nested_beyond_reason_is_malformed_not_a_crash() -> None:
    assert code(protocol.body, b"[" * 100_000) == "malformed-json"
