"""Reading one intake record (events/intake.py describes the wire protocol). Pure, no I/O.

Each check fails with the ``Rejected`` the agency will read: what was wrong, in both languages.
The order matters: the signature is checked over the raw bytes before the body is parsed, so an
unsigned sender learns nothing about what the service would make of its message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events.intake import (
    AGENCY_HEADER,
    ASSIGNMENT_COMMANDS,
    KEY_ID_HEADER,
    PROGRESS_COMMANDS,
    REPLAY_WINDOW_S,
    SIGNATURE_HEADER,
    SIGNATURE_HEADERS,
    TIMESTAMP_HEADER,
    signature_matches,
)
from services.assignment.errors import Rejected
from services.runtime.raw_consumer import RawRecord


@dataclass(frozen=True)
class Signed:
    agency_id: str
    key_id: str
    timestamp: str
    signature: str


@dataclass(frozen=True)
class Body:
    command_type: str
    command_id: str
    payload: dict[str, Any]


def claimed_agency(record: RawRecord) -> str | None:
    """Who the record says sent it (unverified): the header, else the Kafka key."""
    if agency := record.header(AGENCY_HEADER):
        return agency
    return record.key.decode("utf-8", "replace") if record.key else None


def signed(record: RawRecord) -> Signed:
    values = {name: record.header(name) for name in SIGNATURE_HEADERS}
    if missing := [name for name, value in values.items() if not value]:
        raise Rejected("missing-signature", f"missing headers: {', '.join(missing)}",
                       f"Thiếu chữ ký hoặc thông tin ký trong tiêu đề: {', '.join(missing)}")
    return Signed(values[AGENCY_HEADER] or "", values[KEY_ID_HEADER] or "", values[TIMESTAMP_HEADER] or "",
                  values[SIGNATURE_HEADER] or "")


def check_signature(key: bytes, sig: Signed, body: bytes) -> None:
    if not signature_matches(key, sig.timestamp, body, sig.signature):
        raise Rejected("bad-signature", "the signature does not match the body, timestamp and agency key",
                       "Chữ ký không khớp với nội dung, thời điểm ký và khóa của cơ quan")


def check_timestamp(sig: Signed, now_s: float) -> None:
    try:
        signed_at = int(sig.timestamp)
    except ValueError:
        raise Rejected("timestamp-out-of-window", f"timestamp {sig.timestamp!r} is not Unix seconds",
                       "Thời điểm ký không hợp lệ (cần số giây Unix)") from None
    if abs(now_s - signed_at) > REPLAY_WINDOW_S:
        raise Rejected(
            "timestamp-out-of-window",
            f"signed {int(now_s - signed_at)} s from now; commands are accepted within {REPLAY_WINDOW_S} s",
            f"Lệnh ký cách thời điểm nhận quá {REPLAY_WINDOW_S} giây: có thể là lệnh gửi lại, bị từ chối",
        )


def body(value: bytes) -> Body:
    try:
        raw = json.loads(value.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested beyond reason
        raise Rejected("malformed-json", f"the body is not UTF-8 JSON: {exc}",
                       "Nội dung lệnh không phải JSON hợp lệ (UTF-8)") from exc
    if not isinstance(raw, dict):
        raise Rejected("malformed-json", f"the body is a JSON {type(raw).__name__}, not an object",
                       "Nội dung lệnh phải là một đối tượng JSON")
    command_type, command_id, payload = raw.get("command_type"), raw.get("command_id"), raw.get("payload")
    known = (*ASSIGNMENT_COMMANDS, *PROGRESS_COMMANDS)
    if command_type not in known:
        raise Rejected("unknown-command-type",
                       f"unknown command_type {command_type!r}; known: {', '.join(known)}",
                       f"Loại lệnh {command_type!r} không được hỗ trợ")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= 200:
        raise Rejected("invalid-command", "command_id must be a non-empty string of at most 200 characters",
                       "Thiếu mã lệnh (command_id)")
    if not isinstance(payload, dict):
        raise Rejected("invalid-command", "payload must be a JSON object", "Thiếu nội dung lệnh (payload)")
    return Body(command_type, command_id, payload)
