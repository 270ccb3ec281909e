"""The alert operations every entrypoint shares: raise (once per recipient), deliver on every channel,
remind, resolve. Each runs inside the caller's transaction, so an alert, its in-app entry, its
delivery rows and its events commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import asyncpg

from events.alerts import (
    AlertDelivered,
    AlertKind,
    AlertRaised,
    AlertResolved,
    ResolvedBecause,
)
from events.envelope import SYSTEM, Actor, Envelope
from events.tasks import TaskTransferred
from services.alerts import adapters, deliveries, directory_store, disclosure, inapp, wording
from services.alerts.config import AlertsConfig
from services.alerts.deliveries import Outgoing
from services.alerts.domain import Alert, AlertTask, agencies_to_look_up, alert_id, recipients, threshold
from services.runtime import timers
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import UnitOfWork, emit_all

log = get_logger(__name__)

REPEAT = "overdue-repeat"  # subject: the alert id
ESCALATE = "overdue-escalate"  # subject: the task id
DIGEST = "daily-digest"  # subject: "digest"


@dataclass(frozen=True, slots=True)
class Cause:
    """Why alerts of ``kind`` are raised for ``task``: the unit of work of the event or timer that asks."""

    uow: UnitOfWork
    task: AlertTask
    kind: AlertKind
    due: date | None
    actor: Actor
    working_days_left: int | None = None
    # A reorganisation moved the task: only the successor's people are told, once per decision.
    transfer: TaskTransferred | None = None


async def raise_alerts(
    uow: UnitOfWork,
    task: AlertTask,
    kind: AlertKind,
    *,
    due: date | None,
    actor: Actor,
    config: AlertsConfig,
    working_days_left: int | None = None,
    transfer: TaskTransferred | None = None,
) -> list[Alert]:
    """Raise the alert of ``kind`` for each recipient that does not have it yet; returns the new ones.

    ``transfer``: a reorganisation moved the task; only the successor's people are told, once per decision."""
    return (await raise_many([Cause(uow, task, kind, due, actor, working_days_left, transfer)], config))[0]


async def raise_many(
    causes: Sequence[Cause], config: AlertsConfig, entries: inapp.Entries | None = None
) -> list[list[Alert]]:
    """``raise_alerts`` for causes of different tasks, in one transaction, in a handful of statements for
    all of them: one directory look-up, one insert of the alerts, one of their events, and their in-app
    entries into ``entries`` (the caller writes them at the end of its transaction), or, without it, in
    one insert now. Returns each cause's new alerts."""
    if not causes:
        return []
    if entries is None:
        entries = inapp.Entries()
        each = await raise_many(causes, config, entries)
        await entries.write(causes[0].uow.conn)
        return each
    conn = causes[0].uow.conn
    infos = await directory_store.agencies(conn, [a for c in causes for a in agencies_to_look_up(c.kind, c.task)])
    told = [
        [p for p in recipients(c.kind, c.task, infos) if c.transfer is None or p.agency_id == c.transfer.to_agency_id]
        for c in causes
    ]
    for c, people in zip(causes, told, strict=True):
        if len(people) < 2 and c.kind != "escalated":
            # Routine while the directory is incomplete: debug, not one info line per alert.
            log.debug("no head known for the lead agency; alerting the officer only", agency=c.task.lead_agency_id)
        if not people:
            log.warning("nobody to alert: no officer in charge and no head known", kind=c.kind)
    candidates: list[tuple[Cause, Alert]] = []
    for c, people in zip(causes, told, strict=True):
        th = (
            f"transferred:{c.transfer.reorganisation_id}"
            if c.transfer
            else threshold(c.kind, c.due, c.working_days_left)
        )
        now = c.uow.clock.now()
        for r in people:
            alert = Alert(
                alert_id=alert_id(c.task.task_id, c.kind, th, r.person_id),
                task_id=c.task.task_id,
                kind=c.kind,
                threshold=th,
                recipient_person_id=r.person_id,
                recipient_role=r.role,
                recipient_agency_id=r.agency_id,
                message_vi=wording.message(
                    c.kind,
                    r.role,
                    c.task,
                    due=c.due,
                    today=now.date(),
                    working_days_left=c.working_days_left,
                    transfer=c.transfer,
                ),
                due=c.due,
                raised_at=now,
            )
            candidates.append((c, alert))
    # A recipient who already has the alert (a re-delivered cause) is not raised again.
    inserted = await adapters.insert_alerts(conn, [alert for _, alert in candidates])
    new = [(c, alert) for c, alert in candidates if alert.alert_id in inserted]
    raised = [
        c.uow.envelope(
            AlertRaised(
                alert_id=alert.alert_id,
                kind=c.kind,
                threshold=alert.threshold,
                recipient_person_id=alert.recipient_person_id,
                recipient_role=alert.recipient_role,
                lead_agency_id=c.task.lead_agency_id,
                title=c.task.title,
                due=c.due,
                message_vi=alert.message_vi,
            ),
            actor=c.actor,
            task_id=c.task.task_id,
            id_parts=(alert.alert_id,),
        )
        for c, alert in new
    ]
    delivered = await _deliver_many(conn, [(c.uow, alert, c.task, 0) for c, alert in new], config, entries)
    # Each alert's AlertRaised, then its AlertDelivered: the order one alert at a time gives.
    await emit_all(
        conn,
        causes[0].uow.schema,
        [e for pair in zip(raised, delivered, strict=True) for e in pair],
        traceparents=[c.uow.traceparent for c, _ in new for _ in range(2)],  # each alert's two events, its cause's
    )
    created: dict[int, list[Alert]] = {}
    for c, alert in new:
        created.setdefault(id(c), []).append(alert)
    return [created.get(id(c), []) for c in causes]


async def deliver(uow: UnitOfWork, alert: Alert, task: AlertTask, *, reminder: int, config: AlertsConfig) -> None:
    """In-app now (same transaction); webhook and e-mail as delivery rows for their workers."""
    entries = inapp.Entries()
    delivered = await _deliver_many(uow.conn, [(uow, alert, task, reminder)], config, entries)
    await entries.write(uow.conn)
    await emit_all(uow.conn, uow.schema, delivered, traceparents=[uow.traceparent] * len(delivered))


async def _deliver_many(
    conn: asyncpg.Connection,
    alerts: Sequence[tuple[UnitOfWork, Alert, AlertTask, int]],
    config: AlertsConfig,
    entries: inapp.Entries,
) -> list[Envelope]:
    """``deliver`` of each (unit of work, alert, task, reminder): the in-app entries into ``entries``, the
    contacts in one look-up, the delivery rows in one insert; returns the AlertDelivered envelopes for the
    caller to store in order."""
    if not alerts:
        return []
    datas, envelopes = [], []
    for uow, alert, task, reminder in alerts:
        data = entry(alert, task, reminder)
        entries.add(alert.recipient_person_id, data["event"], data)
        datas.append(data)
        envelopes.append(
            uow.envelope(
                AlertDelivered(
                    alert_id=alert.alert_id,
                    channel="in-app",
                    recipient_person_id=alert.recipient_person_id,
                    reminder=reminder,
                ),
                actor=SYSTEM,
                task_id=task.task_id,
                id_parts=(alert.alert_id, "in-app", reminder),
            )
        )
    contacts = await directory_store.contacts_of(
        conn, [(alert.recipient_person_id, alert.recipient_agency_id) for _, alert, _, _ in alerts]
    )
    rows: list[Outgoing] = []
    for (_, alert, task, reminder), data in zip(alerts, datas, strict=True):
        person, agency = alert.recipient_person_id, alert.recipient_agency_id
        email, url = contacts.get((person, agency), (None, None))
        # Webhook and e-mail leave dondoc: for a secret task they carry no content (disclosure.py).
        if url:
            body = disclosure.webhook_body(data, task)
            rows.append(Outgoing("webhook", person, url, body, alert.alert_id, task.task_id, reminder))
        # Reminders before a deadline reach the mailbox in the daily digest, not one e-mail each.
        if email and config.smtp_host and (alert.kind != "approaching" or reminder):
            subject, text = disclosure.email(alert, task, reminder)
            body = {"subject": subject, "text": text, "task_id": task.task_id}
            rows.append(Outgoing("email", person, email, body, alert.alert_id, task.task_id, reminder))
    await deliveries.enqueue_many(conn, rows)
    return envelopes


def entry(alert: Alert, task: AlertTask, reminder: int) -> dict[str, Any]:
    """The in-app entry of an alert or of its reminder: the JSON its person's stream carries (and, whole or
    withheld, the webhook body; disclosure.py)."""
    return {
        "event": "reminder" if reminder else "alert",
        "reminder": reminder,
        "alert_id": alert.alert_id,
        "task_id": alert.task_id,
        "kind": alert.kind,
        "threshold": alert.threshold,
        "recipient_person_id": alert.recipient_person_id,
        "recipient_role": alert.recipient_role,
        "recipient_agency_id": alert.recipient_agency_id,
        "due": alert.due,
        "message_vi": alert.message_vi,
        "title": task.title,
        "code": task.code,
        "source_number": task.source_number,
    }


async def remind(uow: UnitOfWork, alert: Alert, task: AlertTask, config: AlertsConfig) -> int:
    """Deliver the alert again, reworded for today (days overdue grow); returns the reminder number."""
    await inapp.lock_people(uow.conn, [alert.recipient_person_id])
    n = await adapters.count_reminder(uow.conn, alert.alert_id)
    text = wording.message(
        alert.kind, alert.recipient_role, task, due=alert.due, today=uow.clock.now().date(), reminder=n
    )
    await deliver(uow, replace(alert, message_vi=text), task, reminder=n, config=config)
    return n


@dataclass(frozen=True, slots=True)
class Resolution:
    """Why some of a task's open alerts end: the unit of work of the event that asks, and which ones."""

    uow: UnitOfWork
    which: adapters.OpenAlerts
    because: ResolvedBecause
    actor: Actor


async def resolve_many(resolutions: Sequence[Resolution], entries: inapp.Entries) -> None:
    """Resolve each resolution's open alerts (AlertResolved each, in its order), stop their reminders, and
    tell the agency systems that had them by webhook; for tasks of different ids, in one transaction, in a
    handful of statements for all of them. The in-app entries go into ``entries`` (written by the caller)."""
    if not resolutions:
        return
    uow = resolutions[0].uow
    conn = uow.conn
    found = await adapters.open_alerts_of(conn, [r.which for r in resolutions])
    ending = [(r, alert) for r, alerts in zip(resolutions, found, strict=True) for alert in alerts]
    if not ending:
        return
    now = uow.clock.now()
    await adapters.resolve(conn, [(alert.alert_id, r.because, now) for r, alert in ending])
    await _resolution_to_webhooks(conn, ending, now)
    await timers.cancel_many(conn, [str(alert.alert_id) for _, alert in ending])
    for r, alert in ending:
        entries.add(
            alert.recipient_person_id,
            "resolved",
            {
                "event": "resolved",
                "alert_id": alert.alert_id,
                "task_id": r.which.task_id,
                "kind": alert.kind,
                "because": r.because,
            },
        )
    resolved = [
        r.uow.envelope(
            AlertResolved(alert_id=alert.alert_id, recipient_person_id=alert.recipient_person_id, because=r.because),
            actor=r.actor,
            task_id=r.which.task_id,
            id_parts=(alert.alert_id, "resolved"),
        )
        for r, alert in ending
    ]
    await emit_all(conn, uow.schema, resolved, traceparents=[r.uow.traceparent for r, _ in ending])


async def _resolution_to_webhooks(
    conn: asyncpg.Connection, ending: Sequence[tuple[Resolution, Alert]], at: datetime
) -> None:
    """Each webhook target that had the alert (delivered, still trying, or failed and perhaps retried
    later) is told it is over; it is sent after the alert's own deliveries there (deliveries.py).
    No e-mail: a person's mailbox need not hear of every alert that ends; dondoc shows it."""
    targets = await deliveries.webhook_targets(conn, [alert.alert_id for _, alert in ending])
    if not targets:
        return
    tasks = await adapters.get_tasks(conn, sorted({alert.task_id for _, alert in ending}))
    rows = [
        Outgoing(
            "webhook",
            alert.recipient_person_id,
            target,
            disclosure.resolution_body(alert, tasks[alert.task_id], r.because, at),
            alert.alert_id,
            alert.task_id,
            notice="resolved",
        )
        for r, alert in ending
        for target in targets.get(alert.alert_id, [])
    ]
    await deliveries.enqueue_many(conn, rows)
