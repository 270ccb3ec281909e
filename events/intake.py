"""Intake: commands that agency systems publish to ``dondoc.intake``, and their rejections.

The wire protocol (shared by every service that owns intake commands, and by agency clients):

* key: the submitting agency id; value: UTF-8 JSON ``{"command_type", "command_id", "payload"}``.
  ``command_id`` is the agency's own id for the command (unique per agency): the same id twice is a
  replay, and for assignment commands it is also the idempotency key of the resulting task.
* headers: ``dondoc-agency``, ``dondoc-key-id`` (the key's id, printed by ``dondoc token issue``),
  ``dondoc-timestamp`` (Unix seconds) and ``dondoc-signature`` = ``v1=`` + hex HMAC-SHA256 over
  ``<timestamp>.<value bytes>`` with the agency's intake key. Signing the timestamp with the body is
  what makes a captured message useless outside the replay window.
* The intake key is derived from the installation's token secret, the agency and the key id, so any
  service can check a signature without a lookup, and no key is stored anywhere.

Each command yields its event, or an ``IntakeRejected`` on ``dondoc.intake.rejected`` keyed by the
submitting agency: nothing an agency sends is dropped silently, and nothing is answered twice. Which
service answers a record is decided once, for all of them, by events/intake_verdict.py.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import Field

from events.envelope import EventPayload, WireModel
from events.limits import Echo, EchoText, Id
from events.topics import INTAKE_REJECTED

AGENCY_HEADER = "dondoc-agency"
KEY_ID_HEADER = "dondoc-key-id"
TIMESTAMP_HEADER = "dondoc-timestamp"
SIGNATURE_HEADER = "dondoc-signature"
SIGNATURE_HEADERS = (AGENCY_HEADER, KEY_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
REPLAY_WINDOW_S = 300
"""A command signed more than this many seconds away from when the broker received it is refused
(the record's LogAppendTime; events/intake_verdict.py)."""

ASSIGNMENT_COMMANDS = ("AssignTask", "DelegateTask", "RequestExtension", "DecideExtension", "WithdrawTask")
PROGRESS_COMMANDS = (
    "ReportProgress",
    "ReportCompletion",
    "ConfirmCompletion",
    "ReturnCompletion",
    "AddNote",
    "SetLeadTimes",
)
"""Owned by the progress service (it consumes dondoc.intake for them); the assignment service leaves them."""


def signing_key(secret: str, agency_id: str, key_id: str) -> bytes:
    """The intake key of one agency and key id, derived from the installation's token secret."""
    purpose = f"dondoc-intake-key/v1/{agency_id}/{key_id}".encode()
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_matches(key: bytes, timestamp: str, body: bytes, presented: str) -> bool:
    # As bytes: compare_digest refuses a str that is not ASCII, and a header may hold anything.
    return hmac.compare_digest(signature(key, timestamp, body).encode(), presented.encode())


def signed_headers(key: bytes, agency_id: str, key_id: str, body: bytes, now_s: float) -> list[tuple[str, bytes]]:
    """The headers an agency client sends with ``body`` (also used by tests)."""
    timestamp = str(int(now_s))
    return [
        (AGENCY_HEADER, agency_id.encode()),
        (KEY_ID_HEADER, key_id.encode()),
        (TIMESTAMP_HEADER, timestamp.encode()),
        (SIGNATURE_HEADER, signature(key, timestamp, body).encode()),
    ]


class IntakePosition(WireModel):
    topic: Id
    partition: int
    offset: int


class IntakeRejected(EventPayload):
    """An intake command was refused; the agency reads why in ``code`` and the two messages.

    Codes: malformed-json, invalid-command, unknown-command-type, missing-signature, bad-signature,
    timestamp-out-of-window, replayed, unknown-agency, out-of-authority, deadline-unreadable,
    deadline-before-document, deadline-after-parent, task-not-found, not-lead, not-assigner,
    not-task-party, task-withdrawn, extension-pending, extension-not-found, extension-already-decided,
    extension-not-later, officer-not-in-lead-agency, idempotency-conflict, internal-error, …
    (the same codes the HTTP API answers with).
    """

    topic = INTAKE_REJECTED
    event_type = "IntakeRejected"
    agency_id: Echo | None = Field(description="The submitting agency as the record names it (not verified)")
    command_type: Echo | None = None
    command_id: Echo | None = None
    code: Id = Field(description="Machine-readable reason, e.g. 'bad-signature'")
    message_en: EchoText
    message_vi: EchoText
    record: IntakePosition = Field(description="Where the refused command sits on dondoc.intake")
