"""The one reading of an intake record, shared by every service that reads ``dondoc.intake``. Pure.

Invariant: a record's verdict depends on the record and the installation's secret only — its bytes,
its headers and the broker's append time — never on which service reads it, nor when. Freshness is
judged against the record's timestamp, which the broker stamps on arrival
(``message.timestamp.type=LogAppendTime`` on the topic, events/topics.py), not against a reader's
clock: a service that was down for an hour judges a record as it would have on arrival. So the
services split the topic without a gap or an overlap (tests/unit/test_intake_verdict.py):

* a validly signed, fresh, well-formed progress command is the progress service's to answer
  (``for_progress``), and only the progress service answers it;
* everything else — the assignment service's own commands and every ``Refusal`` here — is the
  assignment service's to answer.

The order matters: the signature is checked over the raw bytes before the timestamp and the body are
read, so an unsigned sender learns nothing about what the services would make of its message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

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
    signing_key,
)
from events.limits import ID_MAX

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: no sign, space, underscore or other script
MAX_COMMAND_ID = ID_MAX  # events/limits.py


class IntakeRecord(Protocol):
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp_ms(self) -> int | None: ...  # the broker's append time
    def header(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class Refusal:
    """Why a record is no command: the assignment service answers it with these words."""

    code: str
    message_en: str
    message_vi: str


@dataclass(frozen=True)
class Command:
    """A validly signed, fresh, well-formed command; its agency and key are not judged yet."""

    agency_id: str
    key_id: str
    command_type: str
    command_id: str
    payload: dict[str, Any]

    @property
    def for_progress(self) -> bool:
        return self.command_type in PROGRESS_COMMANDS


def verdict(record: IntakeRecord, secret: str) -> Command | Refusal:
    values = {name: record.header(name) for name in SIGNATURE_HEADERS}
    if missing := [name for name, value in values.items() if not value]:
        return Refusal(
            "missing-signature",
            f"missing headers: {', '.join(missing)}",
            f"Thiếu chữ ký hoặc thông tin ký trong tiêu đề: {', '.join(missing)}",
        )
    agency, key_id = values[AGENCY_HEADER] or "", values[KEY_ID_HEADER] or ""
    stamp, value = values[TIMESTAMP_HEADER] or "", record.value or b""
    if not signature_matches(signing_key(secret, agency, key_id), stamp, value, values[SIGNATURE_HEADER] or ""):
        return Refusal(
            "bad-signature",
            "the signature does not match the body, timestamp and agency key",
            "Chữ ký không khớp với nội dung, thời điểm ký và khóa của cơ quan",
        )
    if stale := _stale(stamp, record.timestamp_ms):
        return stale
    return _command(value, agency, key_id)


def for_progress(judged: Command | Refusal) -> TypeGuard[Command]:
    """The routing decision: the progress service answers exactly these records, assignment the rest."""
    return isinstance(judged, Command) and judged.for_progress


def claimed_agency(record: IntakeRecord) -> str | None:
    """Who the record says sent it (unverified): the header, else the Kafka key. Answers are keyed by it,
    so it is made storable (no U+0000, which PostgreSQL text refuses) and at most MAX_COMMAND_ID long: a
    refusal of a record whose claim is garbage must still commit, or the partition stalls on it."""
    claimed = record.header(AGENCY_HEADER) or (record.key.decode("utf-8", "replace") if record.key else None)
    return claimed.replace("\x00", "\ufffd")[:MAX_COMMAND_ID] if claimed else None


def _stale(stamp: str, appended_ms: int | None) -> Refusal | None:
    if not _UNIX_SECONDS.fullmatch(stamp):
        return Refusal(
            "timestamp-out-of-window",
            f"timestamp {_shown(stamp)} is not Unix seconds",
            "Thời điểm ký không hợp lệ (cần số giây Unix)",
        )
    if appended_ms is None or appended_ms < 0:
        return Refusal(
            "timestamp-out-of-window",
            "the record has no broker timestamp to judge its timestamp by",
            "Bản ghi không có thời điểm Kafka nhận để đối chiếu thời điểm ký",
        )
    apart_ms = appended_ms - int(stamp) * 1000
    if abs(apart_ms) > REPLAY_WINDOW_S * 1000:
        when = "before" if apart_ms > 0 else "after"
        return Refusal(
            "timestamp-out-of-window",
            f"signed {abs(apart_ms) // 1000} s {when} the broker received it; commands are accepted within "
            f"{REPLAY_WINDOW_S} s",
            f"Lệnh ký cách thời điểm nhận quá {REPLAY_WINDOW_S} giây: có thể là lệnh gửi lại, bị từ chối",
        )
    return None


def _command(value: bytes, agency: str, key_id: str) -> Command | Refusal:
    try:
        raw = json.loads(value.decode("utf-8"))  # strict: a byte-order mark or an encoded surrogate is malformed
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested beyond reason
        return Refusal(
            "malformed-json", f"the body is not UTF-8 JSON: {exc}", "Nội dung lệnh không phải JSON hợp lệ (UTF-8)"
        )
    if not isinstance(raw, dict):
        return Refusal(
            "malformed-json",
            f"the body is a JSON {type(raw).__name__}, not an object",
            "Nội dung lệnh phải là một đối tượng JSON",
        )
    if unstorable := _unstorable_text(raw):
        return Refusal(
            "malformed-json",
            f"the body holds {unstorable}, which no text field accepts",
            "Nội dung lệnh chứa ký tự không hợp lệ (U+0000 hoặc nửa cặp thay thế UTF-16)",
        )
    command_type, command_id, payload = raw.get("command_type"), raw.get("command_id"), raw.get("payload")
    known = (*ASSIGNMENT_COMMANDS, *PROGRESS_COMMANDS)
    if not isinstance(command_type, str) or command_type not in known:
        shown = _shown(command_type)
        return Refusal(
            "unknown-command-type",
            f"unknown command_type {shown}; known: {', '.join(known)}",
            f"Loại lệnh {shown} không được hỗ trợ",
        )
    if not isinstance(command_id, str) or not 0 < len(command_id) <= MAX_COMMAND_ID:
        return Refusal(
            "invalid-command",
            f"command_id must be a non-empty string of at most {MAX_COMMAND_ID} characters",
            "Thiếu mã lệnh (command_id)",
        )
    if not isinstance(payload, dict):
        return Refusal("invalid-command", "payload must be a JSON object", "Thiếu nội dung lệnh (payload)")
    return Command(agency, key_id, command_type, command_id, payload)


def _shown(value: object, limit: int = 80) -> str:
    """A sender's value, quoted back in a refusal: clipped, so a refusal never carries a large record back."""
    text = repr(value).replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unstorable_text(document: Any) -> str | None:
    """What in a parsed body no UTF-8 text column can hold: a lone surrogate (JSON may escape one, as
    ``\\ud800``) or U+0000. Found here, the record is refused like any malformed body; missed, it reaches
    the database and fails there on every retry. Iterative: the body may nest as deep as JSON parsed it."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "U+0000 (NUL) in a string"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a lone UTF-16 surrogate in a string"
    return None
