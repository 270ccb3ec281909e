"""Timers of the alerts service (durable rows, see runtime/timers.py): repeated overdue reminders,
escalation, and the daily digest. Each fires in one transaction with everything it causes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta

from events.alerts import AlertEscalated
from events.envelope import SYSTEM
from events.workdays import default_calendar
from services.alerts import adapters, deliveries, directory_store, disclosure, inapp, raising, wording
from services.alerts.adapters import OpenAlerts
from services.alerts.config import AlertsConfig
from services.alerts.domain import REPEATED_ROLES, DigestItem, next_digest, next_repeat
from services.alerts.raising import DIGEST, ESCALATE, REPEAT
from services.runtime import timers
from services.runtime.timers import Timer, TimerHandler
from services.runtime.unit_of_work import UnitOfWork


def handlers(config: AlertsConfig) -> dict[str, TimerHandler]:
    every = timedelta(seconds=config.overdue_repeat_s)

    async def repeat_overdue(timer: Timer, uow: UnitOfWork) -> None:
        alert = await adapters.get_alert(uow.conn, uuid.UUID(timer.subject_id), lock=True)
        if alert is None or alert.resolved_at or alert.acknowledged_at:
            return  # acknowledged or resolved: the repeats stop here
        task = await adapters.get_task(uow.conn, alert.task_id)
        assert task is not None
        if task.status == "open":  # while completion awaits confirmation, skip but keep the cadence
            await raising.remind(uow, alert, task, config)
        at = next_repeat(timer.fire_at, uow.clock.now(), every)
        await timers.schedule(uow.conn, kind=REPEAT, subject_id=timer.subject_id, dedup_key=at.isoformat(), fire_at=at)

    async def escalate(timer: Timer, uow: UnitOfWork) -> None:
        task = await adapters.get_task(uow.conn, timer.subject_id, lock=True)
        due = date.fromisoformat(timer.data["due"])
        if task is None or task.status != "open" or task.due != due:
            return  # completed, withdrawn or extended meanwhile
        [overdue] = await adapters.open_alerts_of(uow.conn, [OpenAlerts(task.task_id, kinds=("overdue",))])
        unacknowledged = [
            a.alert_id for a in overdue if a.acknowledged_at is None and a.recipient_role in REPEATED_ROLES
        ]
        created = await raising.raise_alerts(uow, task, "escalated", due=due, actor=SYSTEM, config=config)
        await uow.emit(
            AlertEscalated(
                due=due,
                overdue_since=datetime.fromisoformat(timer.data["overdue_since"]),
                escalated_to=tuple(a.recipient_person_id for a in created),
                unacknowledged_alert_ids=tuple(unacknowledged),
            ),
            actor=SYSTEM,
            task_id=task.task_id,
            id_parts=(due,),
        )

    async def send_digests(timer: Timer, uow: UnitOfWork) -> None:
        # Today's, even when the timer fired late (the service was down): one digest, about now.
        await digest(uow, uow.clock.now().date(), config)
        at = next_digest(uow.clock.now(), config.digest_at)
        await timers.schedule(uow.conn, kind=DIGEST, subject_id="digest", dedup_key=at.date().isoformat(), fire_at=at)

    return {REPEAT: repeat_overdue, ESCALATE: escalate, DIGEST: send_digests}


async def digest(uow: UnitOfWork, day: date, config: AlertsConfig) -> int:
    """One digest per person with open reminders before a deadline: in-app, and by e-mail if known."""
    by_person: dict[str, list[DigestItem]] = defaultdict(list)
    calendar = default_calendar()
    for row in await adapters.open_approaching_by_person(uow.conn):
        left = calendar.working_days_between(day, row.due)
        by_person[row.recipient_person_id].append(replace(row, working_days_left=left))
    await inapp.lock_people(uow.conn, by_person)
    for person_id, items in by_person.items():
        if not await adapters.claim_digest(uow.conn, person_id, day):
            continue  # this person already had today's digest (a late timer and today's both fired)
        subject, text = wording.digest(day, items)
        alert_ids = [str(i.alert_id) for i in items]
        await inapp.append(
            uow.conn,
            person_id,
            "digest",
            {"event": "digest", "day": day, "text": text, "alert_ids": alert_ids},
        )
        person = await directory_store.get_person(uow.conn, person_id)
        if person and person.email and config.smtp_host:
            subject, text = disclosure.digest_email(day, items)  # secret tasks by id only
            await deliveries.enqueue(
                uow.conn,
                channel="email",
                person_id=person_id,
                target=person.email,
                # Each alert with its task: its AlertDelivered is keyed by that task, like every alert event.
                body={"subject": subject, "text": text, "alerts": [[str(i.alert_id), i.task_id] for i in items]},
                digest_day=day,
            )
    return len(by_person)


async def plan_first_digest(uow: UnitOfWork, config: AlertsConfig) -> None:
    """At start: make sure the next digest is planned (idempotent: one live timer per day)."""
    at = next_digest(uow.clock.now(), config.digest_at)
    await timers.schedule(uow.conn, kind=DIGEST, subject_id="digest", dedup_key=at.date().isoformat(), fire_at=at)
