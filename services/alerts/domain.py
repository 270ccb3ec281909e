"""Alert rules: identity, who is told of what, when reminders repeat, how deliveries back off.
Pure, no I/O."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from events.alerts import AlertKind, RecipientRole
from events.clock import VN_TZ
from events.envelope import deterministic_id
from services.runtime.access import involved, may_see


def alert_id(task_id: str, kind: AlertKind, threshold: str, recipient_person_id: str) -> uuid.UUID:
    """One alert per (task, kind, threshold, recipient): however often its cause is re-delivered."""
    return deterministic_id("alert", task_id, kind, threshold, recipient_person_id)


def threshold(kind: AlertKind, due: date | None, working_days_left: int | None = None) -> str:
    if kind == "assigned":
        return "assigned"
    if kind == "approaching":
        return f"{due}:{working_days_left}wd"
    return f"{due}:{kind}"


@dataclass(frozen=True, slots=True)
class AlertTask:
    """A row of ``alerts.tasks``: a task as alerts need it (adapters.py reads it once from the record; a
    renamed column is a type error in every reader, not a KeyError at run time). Changes go through
    ``dataclasses.replace``."""

    task_id: str
    code: str
    title: str
    source_number: str
    lead_agency_id: str
    assigning_agency_id: str
    officer_in_charge_id: str | None
    due: date | None
    status: str  # 'open', 'completion_reported', 'completed' or 'withdrawn'
    source_issued_on: date | None
    source_issuer: str
    deadline_text: str
    coordinating_agency_ids: tuple[str, ...]
    key_task: bool
    classification: str | None  # None: a row older than the column (secret, by the access rule)


@dataclass(frozen=True, slots=True)
class Alert:
    """A row of ``alerts.alerts``: one alert to one person. Raised with the columns up to ``raised_at``;
    the rest change as it is acknowledged, repeated and resolved."""

    alert_id: uuid.UUID
    task_id: str
    kind: AlertKind
    threshold: str
    recipient_person_id: str
    recipient_role: RecipientRole
    recipient_agency_id: str | None  # None: a row older than the column
    message_vi: str
    due: date | None
    raised_at: datetime
    acknowledged_at: datetime | None = None
    reminders: int = 0
    resolved_at: datetime | None = None
    resolved_because: str | None = None


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An alert as a person's inbox lists it: the alert with its task's code, title and source document."""

    alert_id: uuid.UUID
    task_id: str
    kind: AlertKind
    threshold: str
    recipient_person_id: str
    recipient_role: RecipientRole
    recipient_agency_id: str | None
    message_vi: str
    due: date | None
    raised_at: datetime
    acknowledged_at: datetime | None
    reminders: int
    resolved_at: datetime | None
    resolved_because: str | None
    code: str
    title: str
    source_number: str


@dataclass(frozen=True, slots=True)
class DigestItem:
    """An open, unacknowledged reminder before a deadline, as one person's daily digest lists it."""

    alert_id: uuid.UUID
    task_id: str
    recipient_person_id: str
    due: date
    title: str
    code: str
    source_number: str
    classification: str | None
    working_days_left: int = 0  # counted on the digest's day (timer_handlers.digest), not stored


@dataclass(frozen=True, slots=True)
class Person:
    """A row of ``alerts.people``: who a person is as the directory told alerts, and where to e-mail them."""

    person_id: str
    agency_id: str | None
    name: str
    role: str | None
    email: str | None
    active: bool
    version: int


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: str
    role: RecipientRole
    agency_id: str


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    head_person_id: str | None = None
    tracking_office_ids: tuple[str, ...] = ()


# Coordinating agencies are informed of the assignment and of the overdue task, not of every reminder.
_COORDINATORS_TOLD: frozenset[str] = frozenset({"assigned", "overdue", "transferred"})


def recipients(kind: AlertKind, task: AlertTask, agencies: Mapping[str, AgencyInfo]) -> list[Recipient]:
    """People to tell (DESIGN §4 "Alerts"), each once, the most responsible role first.

    Missing directory data (no head known) shrinks the list; the officer in charge is always told. A secret
    (or not yet classified) task's alerts reach only people of the agencies involved.
    """
    found: list[Recipient] = []
    parties = involved(task.assigning_agency_id, task.lead_agency_id, task.coordinating_agency_ids)

    def add(person_id: str | None, role: RecipientRole, agency_id: str) -> None:
        # The access rule (runtime/access.py): a secret task's alert, which names it, goes only to people of
        # agencies involved in it — not to the assigner's tracking office, which is not.
        if not may_see(task.classification, parties, agency_id):
            return
        if person_id and all(r.person_id != person_id for r in found):
            found.append(Recipient(person_id, role, agency_id))

    lead = task.lead_agency_id
    if kind == "escalated":
        assigning = task.assigning_agency_id
        info = agencies.get(assigning, AgencyInfo())
        add(info.head_person_id, "escalation", assigning)
        for office in info.tracking_office_ids:
            add(agencies.get(office, AgencyInfo()).head_person_id, "escalation", office)
        return found
    add(task.officer_in_charge_id, "officer", lead)
    add(agencies.get(lead, AgencyInfo()).head_person_id, "head", lead)
    if kind in _COORDINATORS_TOLD:
        for agency_id in task.coordinating_agency_ids:
            add(agencies.get(agency_id, AgencyInfo()).head_person_id, "coordinator", agency_id)
    return found


def agencies_to_look_up(kind: AlertKind, task: AlertTask) -> list[str]:
    if kind == "escalated":
        return [task.assigning_agency_id]
    return [task.lead_agency_id, *task.coordinating_agency_ids]


REPEATED_ROLES: frozenset[str] = frozenset({"officer", "head"})
"""Overdue reminders repeat for the people who must act, not for those only informed."""


def next_repeat(previous: datetime, now: datetime, every: timedelta) -> datetime:
    """The next reminder on the original cadence, strictly after ``now``: a service that was down
    (or a clock moved far ahead) sends one reminder, not the whole backlog."""
    if previous + every > now:
        return previous + every
    steps = math.floor((now - previous) / every) + 1
    return previous + steps * every


def next_digest(now: datetime, at: time) -> datetime:
    """The next digest instant after ``now``."""
    local = now.astimezone(VN_TZ)
    candidate = datetime.combine(local.date(), at, tzinfo=VN_TZ)
    return candidate if candidate > local else candidate + timedelta(days=1)


def days_overdue(due: date, today: date) -> int:
    return max((today - due).days, 0)
