"""Consumed events. Task events raise alerts as deadlines near and pass, resolve them when the task no longer
asks anything of anyone, and keep the overdue reminders and the escalation timed.

Every handler is set-based: it takes events of one type, each of another task, and applies them as one
after the other would, in a handful of statements for all of them. A consumer's run goes through them
wave after wave (runtime/consuming.py ``in_waves``: each task's events in order), and its in-app entries
are written once, at the end of the run (inapp.Entries); a single event is a run of one. Directory events keep
who heads which agency, which offices track it and how to reach a person (directory_store.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from events.directory import AgencyChanged, PersonChanged
from events.envelope import Envelope
from events.tasks import (
    DeadlineApproaching,
    DeadlineExtended,
    TaskAssigned,
    TaskCompleted,
    TaskOverdue,
    TaskTransferred,
    parties_after,
)
from services.alerts import adapters, directory_store, inapp, raising
from services.alerts.adapters import OpenAlerts
from services.alerts.config import AlertsConfig
from services.alerts.domain import REPEATED_ROLES, AlertTask
from services.alerts.raising import ESCALATE, REPEAT, Cause, Resolution
from services.runtime import timers
from services.runtime.consuming import BatchHandler, in_waves
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import Handler, UnitOfWork

log = get_logger(__name__)

Items = Sequence[tuple[Envelope, UnitOfWork]]
SetHandler = Callable[[Items, inapp.Entries], Awaitable[None]]
"""Applies events of one type, each of another task, in one transaction; in-app entries into the buffer."""

STILL_FOLLOWED = ("open", "completion_reported")
"""A task in one of these states still asks something of someone; completed or withdrawn, it no longer does."""


async def _tasks_of(items: Items, *, only_open: bool) -> list[tuple[Envelope, UnitOfWork, AlertTask]]:
    """Each event with its task, the rows locked in one statement; ``only_open``: the open ones only."""
    tasks = await adapters.get_tasks(items[0][1].conn, [event.task_id or "" for event, _ in items], lock=True)
    found = []
    for event, uow in items:
        task = tasks.get(event.task_id or "")
        if task is None:
            # Task events of one task share a partition, so TaskAssigned always comes first; reaching here
            # means the assignment predates this service's log: nothing to address.
            log.warning("event for a task this service has never seen", event_type=event.event_type)
        elif not only_open or task.status == "open":
            found.append((event, uow, task))
    return found


def set_handlers(config: AlertsConfig) -> dict[str, SetHandler]:
    every = timedelta(seconds=config.overdue_repeat_s)  # an overdue alert's repeats

    async def assigned(items: Items, entries: inapp.Entries) -> None:
        news: list[tuple[str, TaskAssigned]] = []
        for event, _ in items:
            assert isinstance(event.payload, TaskAssigned) and event.task_id
            news.append((event.task_id, event.payload))
        conn = items[0][1].conn
        tasks = await adapters.insert_tasks(conn, news)
        causes = [
            Cause(uow, tasks[task_id], "assigned", tasks[task_id].due, event.actor)
            for (task_id, _), (event, uow) in zip(news, items, strict=True)
        ]
        await raising.raise_many(causes, config, entries)

    async def approaching(items: Items, entries: inapp.Entries) -> None:
        causes = []
        for event, uow, task in await _tasks_of(items, only_open=True):
            assert isinstance(event.payload, DeadlineApproaching)
            due, left = event.payload.due, event.payload.working_days_left
            causes.append(Cause(uow, task, "approaching", due, event.actor, working_days_left=left))
        await raising.raise_many(causes, config, entries)

    async def overdue(items: Items, entries: inapp.Entries) -> None:
        opened = await _tasks_of(items, only_open=True)
        causes = []
        for event, uow, task in opened:
            assert isinstance(event.payload, TaskOverdue)
            causes.append(Cause(uow, task, "overdue", event.payload.due, event.actor))
        created = await raising.raise_many(causes, config, entries)
        planned: list[timers.PlannedTimer] = []
        for (event, uow, task), alerts in zip(opened, created, strict=True):
            assert isinstance(event.payload, TaskOverdue)
            due, since = event.payload.due, event.payload.overdue_since
            trace = uow.traceparent  # each timer continues its own overdue's trace, not the run's
            planned += [
                timers.PlannedTimer(REPEAT, str(a.alert_id), "1", a.raised_at + every, traceparent=trace)
                for a in alerts
                if a.recipient_role in REPEATED_ROLES
            ]
            planned.append(
                timers.PlannedTimer(
                    ESCALATE,
                    task.task_id,
                    str(due),
                    since + timedelta(seconds=config.escalation_delay_s),
                    {"due": due.isoformat(), "overdue_since": since.isoformat()},
                    traceparent=trace,
                )
            )
        if opened:
            await timers.schedule_many(opened[0][1].conn, planned)

    async def completion_reported(items: Items, entries: inapp.Entries) -> None:
        # Repeats pause while the assigning agency decides; a return resumes them.
        opened = await _tasks_of(items, only_open=True)
        if opened:
            await adapters.set_tasks(items[0][1].conn, [(t.task_id, "completion_reported", None) for _, _, t in opened])

    async def completion_returned(items: Items, entries: inapp.Entries) -> None:
        await adapters.set_tasks(items[0][1].conn, [(event.task_id or "", "open", None) for event, _ in items])

    async def completed(items: Items, entries: inapp.Entries) -> None:
        resolutions, changes = [], []
        for event, uow in items:
            assert isinstance(event.payload, TaskCompleted) and event.task_id
            done = event.payload
            # A recurring task resolves only the occurrence just completed; the next one stays followed.
            until = done.deadline_in_force if done.next_due else None
            resolutions.append(Resolution(uow, OpenAlerts(event.task_id, due_until=until), "completed", event.actor))
            changes.append(
                (event.task_id, "open", done.next_due) if done.next_due else (event.task_id, "completed", None)
            )
        await _ended(items, resolutions, changes, entries)

    async def withdrawn(items: Items, entries: inapp.Entries) -> None:
        await _ended(
            items,
            [Resolution(uow, OpenAlerts(event.task_id or ""), "withdrawn", event.actor) for event, uow in items],
            [(event.task_id or "", "withdrawn", None) for event, _ in items],
            entries,
        )

    async def extended(items: Items, entries: inapp.Entries) -> None:
        # Reminders and overdue alerts of the old deadline no longer hold; the new one gets its own.
        old = ("approaching", "overdue", "escalated")
        resolutions, changes = [], []
        for event, uow in items:
            assert isinstance(event.payload, DeadlineExtended) and event.task_id
            resolutions.append(Resolution(uow, OpenAlerts(event.task_id, kinds=old), "deadline-extended", event.actor))
            changes.append((event.task_id, None, event.payload.due))
        await _ended(items, resolutions, changes, entries)

    async def transferred(items: Items, entries: inapp.Entries) -> None:
        """A reorganisation moved the tasks: the old agency's alerts no longer ask anything of its people, and
        the successor's people are told once ("nhiệm vụ được chuyển giao")."""
        known = await _tasks_of(items, only_open=False)
        resolutions, parties, causes = [], [], []
        for event, uow, task in known:
            move = event.payload
            assert isinstance(move, TaskTransferred)
            theirs = OpenAlerts(task.task_id, recipient_agency_id=move.from_agency_id)
            resolutions.append(Resolution(uow, theirs, "transferred", event.actor))
            lead, coordinating, officer = parties_after(
                task.lead_agency_id, task.coordinating_agency_ids, task.officer_in_charge_id, move
            )
            parties.append((task.task_id, lead, coordinating, officer))
            if task.status in STILL_FOLLOWED:  # completed or withdrawn meanwhile: nobody to tell
                moved = replace(
                    task, lead_agency_id=lead, coordinating_agency_ids=coordinating, officer_in_charge_id=officer
                )
                causes.append(Cause(uow, moved, "transferred", task.due, event.actor, transfer=move))
        await raising.resolve_many(resolutions, entries)
        if known:
            await adapters.set_parties(items[0][1].conn, parties)
        await raising.raise_many(causes, config, entries)

    return {
        "TaskTransferred": transferred,
        "TaskAssigned": assigned,
        "DeadlineApproaching": approaching,
        "TaskOverdue": overdue,
        "CompletionReported": completion_reported,
        "CompletionReturned": completion_returned,
        "TaskCompleted": completed,
        "TaskWithdrawn": withdrawn,
        "DeadlineExtended": extended,
    }


async def _ended(
    items: Items,
    resolutions: Sequence[Resolution],
    changes: Sequence[tuple[str, str | None, date | None]],
    entries: inapp.Entries,
) -> None:
    """Tasks completed, withdrawn or given a new deadline: their alerts resolved, the escalation of the
    deadline that held cancelled, the task rows changed."""
    conn = items[0][1].conn
    await raising.resolve_many(resolutions, entries)
    await timers.cancel_many(conn, [task_id for task_id, _, _ in changes], kinds=(ESCALATE,))
    await adapters.set_tasks(conn, changes)


def _applier(config: AlertsConfig) -> Callable[[Items], Awaitable[None]]:
    """Applies a run of task events (all in one transaction): wave after wave, each wave's events by type,
    then the run's in-app entries at once."""
    own = set_handlers(config)

    async def apply(items: Items) -> None:
        entries = inapp.Entries()
        for wave in in_waves(items):
            by_type: dict[str, list[tuple[Envelope, UnitOfWork]]] = {}
            for item in wave:
                by_type.setdefault(item[0].event_type, []).append(item)
            for event_type, group in by_type.items():
                await own[event_type](group, entries)
        await entries.write(items[0][1].conn)

    return apply


async def on_agency_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, AgencyChanged)
    await directory_store.upsert_agency(uow.conn, event.payload)


async def on_person_changed(event: Envelope, uow: UnitOfWork) -> None:
    assert isinstance(event.payload, PersonChanged)
    await directory_store.upsert_person(uow.conn, event.payload)


def handlers(config: AlertsConfig) -> dict[str, Handler]:
    """The consumed events: each task event alone (a run of one), and the directory (who heads which agency,
    which offices track it, how to reach a person)."""
    apply = _applier(config)

    async def one(event: Envelope, uow: UnitOfWork) -> None:
        await apply([(event, uow)])

    return {
        **dict.fromkeys(set_handlers(config), one),
        "AgencyChanged": on_agency_changed,
        "PersonChanged": on_person_changed,
    }


def batch_handler(config: AlertsConfig) -> BatchHandler:
    """Runs of task events in one transaction each (runtime/consuming.py), every type set-based: a bulk
    import commits once per run and applies its events in a few statements per wave."""
    return BatchHandler(frozenset(set_handlers(config)), _applier(config))
