"""The alert operations every entrypoint shares: raise (once per recipient), deliver on every channel,
remind, resolve. Each runs inside the caller's transaction, so an alert, its in-app entry, its
delivery rows and its events commit together or not at all."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from events.alerts import (
    AlertDelivered,
    AlertKind,
    AlertRaised,
    AlertResolved,
    RecipientRole,
    ResolvedBecause,
)
from events.envelope import SYSTEM, Actor
from events.tasks import TaskTransferred
from services.alerts import adapters, deliveries, directory_store, disclosure, inapp, wording
from services.alerts.config import AlertsConfig
from services.alerts.domain import agencies_to_look_up, alert_id, recipients, threshold
from services.runtime import timers
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import UnitOfWork

log = get_logger(__name__)

REPEAT = "overdue-repeat"  # subject: the alert id
ESCALATE = "overdue-escalate"  # subject: the task id
DIGEST = "daily-digest"  # subject: "digest"


async def raise_alerts(
    uow: UnitOfWork,
    task: dict[str, Any],
    kind: AlertKind,
    *,
    due: date | None,
    actor: Actor,
    config: AlertsConfig,
    working_days_left: int | None = None,
    transfer: TaskTransferred | None = None,
) -> list[dict[str, Any]]:
    """Raise the alert of ``kind`` for each recipient that does not have it yet; returns the new ones.

    ``transfer``: a reorganisation moved the task; only the successor's people are told, once per decision."""
    infos = await directory_store.agencies(uow.conn, agencies_to_look_up(kind, task))
    people = recipients(kind, task, infos)
    if transfer is not None:
        people = [p for p in people if p.agency_id == transfer.to_agency_id]
    if len(people) < 2 and kind != "escalated":
        # Routine while the directory is incomplete: debug, not one info line per alert.
        log.debug("no head known for the lead agency; alerting the officer only", agency=task["lead_agency_id"])
    if not people:
        log.warning("nobody to alert: no officer in charge and no head known", kind=kind)
        return []
    await inapp.lock_people(uow.conn, [p.person_id for p in people])
    th = f"transferred:{transfer.reorganisation_id}" if transfer else threshold(kind, due, working_days_left)
    today, created = uow.clock.now().date(), []
    for r in people:
        alert = {
            "alert_id": alert_id(task["task_id"], kind, th, r.person_id),
            "task_id": task["task_id"],
            "kind": kind,
            "threshold": th,
            "recipient_person_id": r.person_id,
            "recipient_role": r.role,
            "recipient_agency_id": r.agency_id,
            "due": due,
            "raised_at": uow.clock.now(),
            "message_vi": wording.message(
                kind, r.role, task, due=due, today=today, working_days_left=working_days_left, transfer=transfer
            ),
        }
        if not await adapters.insert_alert(uow.conn, **alert):
            continue  # this recipient already has this alert: a re-delivered cause changes nothing
        await uow.emit(
            AlertRaised(
                alert_id=alert["alert_id"],
                kind=kind,
                threshold=th,
                recipient_person_id=r.person_id,
                recipient_role=r.role,
                lead_agency_id=task["lead_agency_id"],
                title=task["title"],
                due=due,
                message_vi=alert["message_vi"],
            ),
            actor=actor,
            task_id=task["task_id"],
            id_parts=(alert["alert_id"],),
        )
        await deliver(uow, alert, task, reminder=0, config=config)
        created.append(alert)
    return created


async def deliver(
    uow: UnitOfWork, alert: dict[str, Any], task: dict[str, Any], *, reminder: int, config: AlertsConfig
) -> None:
    """In-app now (same transaction); webhook and e-mail as delivery rows for their workers."""
    person, agency = alert["recipient_person_id"], alert["recipient_agency_id"]
    data = {
        "event": "reminder" if reminder else "alert",
        "reminder": reminder,
        **{
            k: alert[k]
            for k in (
                "alert_id",
                "task_id",
                "kind",
                "threshold",
                "recipient_person_id",
                "recipient_role",
                "recipient_agency_id",
                "due",
                "message_vi",
            )
        },
        "title": task["title"],
        "code": task["code"],
        "source_number": task["source_number"],
    }
    await inapp.append(uow.conn, person, data["event"], data)
    await uow.emit(
        AlertDelivered(alert_id=alert["alert_id"], channel="in-app", recipient_person_id=person, reminder=reminder),
        actor=SYSTEM,
        task_id=task["task_id"],
        id_parts=(alert["alert_id"], "in-app", reminder),
    )
    email, url = await directory_store.contacts(uow.conn, person, agency)
    common = {"alert_id": alert["alert_id"], "task_id": task["task_id"], "reminder": reminder}
    # Webhook and e-mail leave dondoc: for a secret task they carry no content (disclosure.py).
    if url:
        body = disclosure.webhook_body(data, task)
        await deliveries.enqueue(uow.conn, channel="webhook", person_id=person, target=url, body=body, **common)
    # Reminders before a deadline reach the mailbox in the daily digest, not one e-mail each.
    if email and config.smtp_host and (alert["kind"] != "approaching" or reminder):
        subject, text = disclosure.email(alert, task, reminder)
        body = {"subject": subject, "text": text, "task_id": task["task_id"]}
        await deliveries.enqueue(uow.conn, channel="email", person_id=person, target=email, body=body, **common)


async def remind(uow: UnitOfWork, alert: dict[str, Any], task: dict[str, Any], config: AlertsConfig) -> int:
    """Deliver the alert again, reworded for today (days overdue grow); returns the reminder number."""
    await inapp.lock_people(uow.conn, [alert["recipient_person_id"]])
    n = await adapters.count_reminder(uow.conn, alert["alert_id"])
    text = wording.message(
        alert["kind"],
        cast(RecipientRole, alert["recipient_role"]),
        task,
        due=alert["due"],
        today=uow.clock.now().date(),
        reminder=n,
    )
    await deliver(uow, {**alert, "message_vi": text}, task, reminder=n, config=config)
    return n


async def resolve_alerts(
    uow: UnitOfWork,
    task_id: str,
    because: ResolvedBecause,
    *,
    actor: Actor,
    due_until: date | None = None,
    kinds: Iterable[str] | None = None,
    recipient_agency_id: str | None = None,
) -> int:
    """Resolve the task's open alerts (AlertResolved each), stop their reminders, and tell the agency
    systems that had them by webhook."""
    open_alerts = await adapters.open_alerts_of(
        uow.conn, task_id, due_until=due_until, kinds=kinds, recipient_agency_id=recipient_agency_id
    )
    if not open_alerts:
        return 0
    task = await adapters.get_task(uow.conn, task_id)
    assert task is not None  # alerts reference their task
    await inapp.lock_people(uow.conn, [a["recipient_person_id"] for a in open_alerts])
    for alert in open_alerts:
        await adapters.resolve(uow.conn, alert["alert_id"], because, uow.clock.now())
        await _resolution_to_webhooks(uow, alert, task, because)
        await timers.cancel(uow.conn, str(alert["alert_id"]))
        await inapp.append(
            uow.conn,
            alert["recipient_person_id"],
            "resolved",
            {
                "event": "resolved",
                "alert_id": alert["alert_id"],
                "task_id": task_id,
                "kind": alert["kind"],
                "because": because,
            },
        )
        await uow.emit(
            AlertResolved(
                alert_id=alert["alert_id"], recipient_person_id=alert["recipient_person_id"], because=because
            ),
            actor=actor,
            task_id=task_id,
            id_parts=(alert["alert_id"], "resolved"),
        )
    return len(open_alerts)


async def _resolution_to_webhooks(
    uow: UnitOfWork, alert: dict[str, Any], task: dict[str, Any], because: ResolvedBecause
) -> None:
    """Each webhook target that had the alert (delivered, still trying, or failed and perhaps retried
    later) is told it is over; it is sent after the alert's own deliveries there (deliveries.py).
    No e-mail: a person's mailbox need not hear of every alert that ends; dondoc shows it."""
    body = disclosure.resolution_body(alert, task, because, uow.clock.now())
    for target in await deliveries.webhook_targets(uow.conn, alert["alert_id"]):
        await deliveries.enqueue(
            uow.conn,
            channel="webhook",
            notice="resolved",
            person_id=alert["recipient_person_id"],
            target=target,
            body=body,
            alert_id=alert["alert_id"],
            task_id=task["task_id"],
        )
