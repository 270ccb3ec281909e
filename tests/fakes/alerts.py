"""Fakes of the alerts service's ports: its repository (services/alerts/adapters.py), directory
(directory_store.py), delivery rows (deliveries.py), in-app stream (inapp.py), timer table
(services/runtime/timers.py) and the outbox's ``emit_all``, for its command handlers (commands.py), its
consumed-event handlers (handlers.py) and its timers (timer_handlers.py). The real alert rules run between
them (raising.py, domain.py, wording.py, disclosure.py): a test sees who was told, what left dondoc, which
reminders and escalations were planned and which events were emitted, in milliseconds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pytest

from events.envelope import Envelope
from events.tasks import TaskAssigned
from services.alerts import adapters, commands, deliveries, handlers, inapp, raising, timer_handlers
from services.alerts.deliveries import Outgoing
from services.alerts.domain import AgencyInfo, Alert, AlertTask, DigestItem, Person
from services.runtime import timers, unit_of_work
from services.runtime.unit_of_work import NotEnqueued


def a_task(task_id: str = "t-1", **columns: Any) -> AlertTask:
    """A task as ``adapters.get_task`` returns it; ``columns`` override the defaults."""
    task = AlertTask(
        task_id=task_id,
        code="131/NQ-CP#13",
        title="Triển khai thanh toán học phí trực tuyến",
        source_number="131/NQ-CP",
        lead_agency_id="bd-sgddt",
        assigning_agency_id="ubnd-bd",
        officer_in_charge_id="p-officer",
        due=date(2022, 11, 30),
        status="open",
        source_issued_on=date(2022, 10, 6),
        source_issuer="Chính phủ",
        deadline_text="Tháng 11/2022",
        coordinating_agency_ids=("bd-stc",),
        key_task=False,
        classification="cong-khai",
    )
    return replace(task, **columns)


def an_alert(alert_id: uuid.UUID, **columns: Any) -> Alert:
    """An alert as ``adapters.get_alert`` returns it; ``columns`` override the defaults."""
    alert = Alert(
        alert_id=alert_id,
        task_id="t-1",
        kind="overdue",
        threshold="2022-11-30:overdue",
        recipient_person_id="can-bo-1",
        recipient_role="officer",
        recipient_agency_id="so-gddt",
        message_vi="Nhiệm vụ đã quá hạn.",
        due=date(2022, 11, 30),
        raised_at=datetime.fromisoformat("2022-12-01T08:00:00+07:00"),
    )
    return replace(alert, **columns)


def a_digest_item(task: AlertTask, person_id: str, working_days_left: int) -> DigestItem:
    assert task.due is not None
    return DigestItem(
        alert_id=uuid.uuid4(),
        task_id=task.task_id,
        recipient_person_id=person_id,
        due=task.due,
        title=task.title,
        code=task.code,
        source_number=task.source_number,
        classification=task.classification,
        working_days_left=working_days_left,
    )


@dataclass
class InMemoryAlerts:
    """The functions of the alerts' adapters, directory, deliveries, in-app stream and timers that the
    handlers call, on dicts and lists; each keeps the rule of its SQL (ON CONFLICT, coalesce, filters)."""

    tasks: dict[str, AlertTask] = field(default_factory=dict)
    alerts: dict[uuid.UUID, Alert] = field(default_factory=dict)
    directory: dict[str, AgencyInfo] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    webhooks: dict[str, str] = field(default_factory=dict)  # agency id → URL
    outgoing: dict[uuid.UUID, Outgoing] = field(default_factory=dict)  # by delivery id
    stream: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    digests: set[tuple[str, date]] = field(default_factory=set)
    live_timers: list[timers.PlannedTimer] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    PlannedTimer = timers.PlannedTimer  # handlers.py plans through ``timers.PlannedTimer``

    # adapters: tasks
    async def insert_tasks(self, _conn: Any, assigned: Sequence[tuple[str, TaskAssigned]]) -> dict[str, AlertTask]:
        for task_id, e in assigned:
            known = self.tasks.get(task_id)
            if known is not None:
                if known.classification is None:
                    self.tasks[task_id] = replace(known, classification=e.classification)
                continue
            doc = e.source_document
            self.tasks[task_id] = AlertTask(
                task_id=task_id,
                code=e.code,
                title=e.title,
                source_number=doc.number,
                lead_agency_id=e.lead_agency_id,
                assigning_agency_id=e.assigning_agency_id,
                officer_in_charge_id=e.officer_in_charge_id,
                due=e.deadline.due,
                status="open",
                source_issued_on=doc.issued_on,
                source_issuer=doc.issuer,
                deadline_text=e.deadline.text,
                coordinating_agency_ids=tuple(e.coordinating_agency_ids),
                key_task=e.key_task,
                classification=e.classification,
            )
        return {task_id: self.tasks[task_id] for task_id, _ in assigned}

    async def get_tasks(self, _conn: Any, task_ids: Sequence[str], *, lock: bool = False) -> dict[str, AlertTask]:
        return {t: self.tasks[t] for t in sorted(task_ids) if t in self.tasks}

    async def get_task(self, _conn: Any, task_id: str, *, lock: bool = False) -> AlertTask | None:
        return self.tasks.get(task_id)

    async def set_tasks(self, _conn: Any, changes: Sequence[tuple[str, str | None, date | None]]) -> None:
        for task_id, status, due in changes:
            if task_id in self.tasks:
                task = self.tasks[task_id]
                self.tasks[task_id] = replace(task, status=status or task.status, due=due or task.due)

    async def set_parties(self, _conn: Any, parties: Sequence[tuple[str, str, Sequence[str], str | None]]) -> None:
        for task_id, lead, coordinating, officer in parties:
            self.tasks[task_id] = replace(
                self.tasks[task_id],
                lead_agency_id=lead,
                coordinating_agency_ids=tuple(coordinating),
                officer_in_charge_id=officer,
            )

    # adapters: alerts
    async def insert_alerts(self, _conn: Any, alerts: Sequence[Alert]) -> set[uuid.UUID]:
        new = set()
        for alert in alerts:
            if alert.alert_id not in self.alerts:  # ON CONFLICT DO NOTHING
                self.alerts[alert.alert_id] = alert
                new.add(alert.alert_id)
        return new

    async def get_alert(self, _conn: Any, alert_id: uuid.UUID, *, lock: bool = False) -> Alert | None:
        return self.alerts.get(alert_id)

    async def open_alerts_of(self, _conn: Any, wanted: Sequence[adapters.OpenAlerts]) -> list[list[Alert]]:
        def matches(a: Alert, w: adapters.OpenAlerts) -> bool:
            return (
                a.task_id == w.task_id
                and a.resolved_at is None
                and (w.due_until is None or a.due is None or a.due <= w.due_until)
                and (w.kinds is None or a.kind in w.kinds)
                and (w.recipient_agency_id is None or a.recipient_agency_id == w.recipient_agency_id)
            )

        return [
            sorted(
                (a for a in self.alerts.values() if matches(a, w)),
                key=lambda a: (a.recipient_person_id, a.alert_id),
            )
            for w in wanted
        ]

    async def resolve(self, _conn: Any, resolved: Sequence[tuple[uuid.UUID, str, datetime]]) -> None:
        for alert_id, because, at in resolved:
            self.alerts[alert_id] = replace(self.alerts[alert_id], resolved_at=at, resolved_because=because)

    async def acknowledge(self, _conn: Any, alert_id: uuid.UUID, at: datetime) -> None:
        if self.alerts[alert_id].acknowledged_at is None:
            self.alerts[alert_id] = replace(self.alerts[alert_id], acknowledged_at=at)

    async def count_reminder(self, _conn: Any, alert_id: uuid.UUID) -> int:
        alert = self.alerts[alert_id]
        self.alerts[alert_id] = replace(alert, reminders=alert.reminders + 1)
        return alert.reminders + 1

    async def open_approaching_by_person(self, _conn: Any) -> list[DigestItem]:
        items = []
        for a in self.alerts.values():
            task = self.tasks[a.task_id]
            if (
                a.kind == "approaching"
                and a.resolved_at is None
                and a.acknowledged_at is None
                and task.status == "open"
            ):
                assert a.due is not None
                items.append(
                    DigestItem(
                        a.alert_id,
                        a.task_id,
                        a.recipient_person_id,
                        a.due,
                        task.title,
                        task.code,
                        task.source_number,
                        task.classification,
                    )
                )
        return sorted(items, key=lambda i: (i.recipient_person_id, i.due, i.task_id))

    async def claim_digest(self, _conn: Any, person_id: str, day: date) -> bool:
        if (person_id, day) in self.digests:
            return False
        self.digests.add((person_id, day))
        return True

    # directory_store
    async def agencies(self, _conn: Any, agency_ids: Iterable[str]) -> dict[str, AgencyInfo]:
        asked = list(agency_ids)
        offices = [o for a in asked for o in self.directory.get(a, AgencyInfo()).tracking_office_ids]
        return {a: self.directory.get(a, AgencyInfo()) for a in [*asked, *offices]}

    async def contacts_of(
        self, _conn: Any, pairs: Iterable[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], tuple[str | None, str | None]]:
        found: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
        for person, agency in pairs:
            known = self.people.get(person)
            found[(person, agency)] = (known.email if known else None, self.webhooks.get(agency or ""))
        return found

    async def get_person(self, _conn: Any, person_id: str) -> Person | None:
        return self.people.get(person_id)

    # deliveries
    async def enqueue_many(self, _conn: Any, rows: Sequence[Outgoing]) -> int:
        new = 0
        for row in rows:
            delivery_id = deliveries._delivery_id(row)  # the real deterministic id: a cause is stored once
            if delivery_id not in self.outgoing:
                self.outgoing[delivery_id] = row
                new += 1
        return new

    async def enqueue(self, conn: Any, **row: Any) -> bool:
        return bool(await self.enqueue_many(conn, [Outgoing(**row)]))

    async def webhook_targets(self, _conn: Any, alert_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        targets: dict[uuid.UUID, set[str]] = {}
        for row in self.outgoing.values():
            alert_id = row.alert_id
            if alert_id is not None and alert_id in alert_ids and (row.channel, row.notice) == ("webhook", "alert"):
                targets.setdefault(alert_id, set()).add(row.target)
        return {alert_id: sorted(urls) for alert_id, urls in targets.items()}

    def sent(self, channel: str, notice: str = "alert") -> list[Outgoing]:
        return [r for r in self.outgoing.values() if r.channel == channel and r.notice == notice]

    # inapp
    async def lock_people(self, _conn: Any, _person_ids: Any) -> None:
        return None

    async def append(self, _conn: Any, person_id: str, kind: str, data: dict[str, Any]) -> int:
        self.stream.append((person_id, kind, data))
        return len(self.stream)

    async def append_many(self, _conn: Any, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        self.stream += entries

    # timers
    async def schedule_many(self, _conn: Any, planned: Sequence[timers.PlannedTimer]) -> None:
        for t in planned:
            if all(
                (t.kind, t.subject_id, t.dedup_key) != (p.kind, p.subject_id, p.dedup_key) for p in self.live_timers
            ):
                self.live_timers.append(t)

    async def schedule(self, conn: Any, **timer: Any) -> None:
        await self.schedule_many(conn, [timers.PlannedTimer(**timer)])

    async def cancel_many(
        self, _conn: Any, subject_ids: Sequence[str], kinds: tuple[str, ...] | None = None, *, skip_firing: bool = False
    ) -> None:
        self.cancelled += subject_ids
        self.live_timers = [
            t for t in self.live_timers if t.subject_id not in subject_ids or (kinds and t.kind not in kinds)
        ]

    async def cancel(
        self, conn: Any, subject_id: str, kinds: tuple[str, ...] | None = None, *, skip_firing: bool = False
    ) -> int:
        await self.cancel_many(conn, [subject_id], kinds)
        return 1

    def timers_of(self, subject_id: str) -> list[timers.PlannedTimer]:
        return [t for t in self.live_timers if t.subject_id == subject_id]


async def _emit_all(
    conn: Any, schema: str, envelopes: Sequence[Envelope], *, traceparents: Sequence[str | None] = ()
) -> None:
    """``unit_of_work.emit_all`` on the in-memory outbox fake_unit_of_work installed (tests/fakes/runtime.py),
    with its rule: an id already held by another event raises NotEnqueued."""
    outbox = unit_of_work.outbox  # type: ignore[attr-defined]  # the fake, as fake_unit_of_work set it
    for envelope in envelopes:
        if not await outbox.enqueue(conn, envelope, schema=schema) and not await outbox.holds_same_event(
            conn, envelope
        ):
            raise NotEnqueued(envelope)


def install(monkeypatch: pytest.MonkeyPatch) -> InMemoryAlerts:
    """Point the command, event and timer handlers, and the alert operations under them (raising.py), at
    one in-memory store. Install ``tests.fakes.runtime.fake_unit_of_work`` too: events land in its outbox."""
    store = InMemoryAlerts()
    for module in (commands, handlers, raising, timer_handlers):
        for port in ("adapters", "directory_store", "deliveries", "timers"):
            if hasattr(module, port):
                monkeypatch.setattr(module, port, store)
    for name in ("lock_people", "append", "append_many"):  # inapp.Entries.write calls them too
        monkeypatch.setattr(inapp, name, getattr(store, name))
    monkeypatch.setattr(raising, "emit_all", _emit_all)
    return store
