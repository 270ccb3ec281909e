"""Every size limit of dondoc, declared once: HTTP bodies, fields, lists, events, dead letters.

Nothing a user or an agency system sends is unbounded: a body over ``HTTP_BODY_MAX_BYTES`` is refused
with 413, a field or list over its limit with 422 (an intake command with an ``invalid-command``
rejection), and an event whose encoding is over ``EVENT_MAX_BYTES`` is refused before it reaches the
outbox, so nothing oversized ever reaches Kafka (docs/limits.md cites this module).

The limits sit far above any real record (a resolution's task title is a sentence or two, its
description a few paragraphs): they stop abuse and accidents, never a real task. Lowering one is a
breaking change of the published contracts (events/contracts.py); raising one is not.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from events.text import nfc

# --- Bytes ---------------------------------------------------------------------------------------------
HTTP_BODY_MAX_BYTES = 1024 * 1024
"""Any HTTP request body (413 above)."""
EVENT_MAX_BYTES = 512 * 1024
"""One encoded envelope (JSON value of the Kafka record). Half of Kafka's default 1 MB message limit, so
the headers and the batch overhead always fit."""
DEAD_LETTER_VALUE_MAX_BYTES = 64 * 1024
"""What of a dead-lettered record's value is kept (topic and table); its full size and SHA-256 go along."""
DEAD_LETTER_ERROR_MAX_CHARS = 4000
"""The error text kept with a dead letter."""

# --- Characters (after NFC) ----------------------------------------------------------------------------
ID_MAX = 200
"""Any id: agency, person, group, task, request, delegation, token, idempotency key, command id."""
CODE_MAX = 300
"""A document number (131/NQ-CP) or a task code (131/NQ-CP/UBND-BD#13)."""
NAME_MAX = 300
"""Names: an agency, a group, a person, a person's title, an alias, an issuer."""
DEADLINE_TEXT_MAX = 500
"""Deadline text as written in a document ('Trước ngày 15/9/2023, báo cáo định kỳ hằng quý')."""
TITLE_MAX = 2000
"""A task's title (trích yếu)."""
TEXT_MAX = 4000
"""A reason, a note, a product, a message."""
LONG_TEXT_MAX = 20_000
"""A task's description and expected product, a report's paragraph: about ten printed pages."""
LINK_MAX = 2000
"""A URL (evidence link, webhook)."""
EMAIL_MAX = 254
"""RFC 5321's limit of a forward path."""

# --- Items of a list -----------------------------------------------------------------------------------
IDS_MAX = 500
"""Agencies or groups named on one task or one agency (coordinating agencies, can_assign_to)."""
MEMBERS_MAX = 2000
"""Members of one group of agencies (every commune of a province fits many times)."""
ALIASES_MAX = 50
CHILDREN_MAX = 200
"""Parts of one delegation."""
LEAD_DAYS_MAX = 10
"""Reminder lead times of one task."""
REORGANISED_AGENCIES_MAX = 100
"""Agencies one reorganisation decision abolishes (the 2025 provincial merger abolished 35 UBND tỉnh at once)."""
TASK_SHARES_MAX = 5000
"""Open tasks a split names one by one (which successor takes which)."""
ALERT_IDS_MAX = 1000
"""Alert ids or people named by one alert event."""

# --- Types that carry a limit (their JSON Schema says maxLength / maxItems) ------------------------------
# Text is put in NFC before it is measured (an NFD text is longer for the same words), then checked as a
# string, so a refusal reads "at most N characters".
_NFC = BeforeValidator(lambda v: nfc(v) if isinstance(v, str) else v)
Id = Annotated[str, Field(max_length=ID_MAX)]
Code = Annotated[str, Field(max_length=CODE_MAX), _NFC]
Name = Annotated[str, Field(max_length=NAME_MAX), _NFC]
DeadlineText = Annotated[str, Field(max_length=DEADLINE_TEXT_MAX), _NFC]
Title = Annotated[str, Field(max_length=TITLE_MAX), _NFC]
Text = Annotated[str, Field(max_length=TEXT_MAX), _NFC]
LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX), _NFC]
Link = Annotated[str, Field(max_length=LINK_MAX), _NFC]
Email = Annotated[str, Field(max_length=EMAIL_MAX)]
IdList = Annotated[tuple[Id, ...], Field(max_length=IDS_MAX)]
NameList = Annotated[tuple[Name, ...], Field(max_length=ALIASES_MAX)]


def clip(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` with a visible mark: for echoing what a sender sent, never for
    storing what it asked for."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _clipper(max_chars: int) -> BeforeValidator:
    return BeforeValidator(lambda v: clip(v, max_chars) if isinstance(v, str) else v)


Echo = Annotated[str, Field(max_length=ID_MAX), _clipper(ID_MAX)]
"""What a rejection repeats of the refused record (its agency, command type, command id): clipped, not
refused, so an oversized record still gets its rejection."""
EchoText = Annotated[str, Field(max_length=TEXT_MAX), _clipper(TEXT_MAX), _NFC]
"""A rejection's message, which may quote parts of the record: clipped, for the same reason."""
