"""``dondoc drill check``: what the load sent against what each service holds.

Two kinds of rows:

* the services commands go to (assignment, progress): **sent** the commands they accepted (a 2xx, or an
  intake record on the log), **applied** those whose effect and event are there (the task exists; the
  event the answer named is in the outbox), **lost** the rest, plus any of their events never published
  (the outbox still holding them after the drill caught up); **duplicated**: one command that made two
  events (a retried command must name the same event).
* the services that consume the events (progress, alerts, reporting, audit): **sent** every event of the
  drill's tasks on a topic the service handles, **applied** those its inbox holds (recorded in the same
  transaction as the effect), **dead-lettered** those in its dead letters, **lost** the rest;
  **duplicated**: effects beyond one per event (audit chain entries, alerts for one threshold and person).

Bad records of the load are counted apart: they must be refused, never count as lost, never block.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from drills.load import Ledger
from events.topics import SERVICES
from services.runtime.settings import Settings

CONSUMERS = ("progress", "alerts", "reporting", "audit")
ALL_EVENTS = "*"


@dataclass
class Row:
    service: str
    what: str
    sent: int = 0
    applied: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # op → refusals of good commands (4xx)
    gave_up: int = 0
    bad_sent: int = 0
    bad_rejected: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.rows) + self.gave_up

    @property
    def duplicated(self) -> int:
        return sum(r.duplicated for r in self.rows)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.bad_rejected == self.bad_sent


def handled_types(service: str, settings: Settings) -> tuple[tuple[str, ...], set[str]]:
    """The topics ``service`` consumes and the event types it applies (``*``: all)."""
    from services.registry import definition

    spec = definition(service)
    return tuple(spec.topics), set(spec.handlers_for(settings))


async def check(ledger: Ledger, database_url: str, settings: Settings) -> Report:
    report = Report()
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        await _commands(conn, ledger, report)
        tasks = sorted(ledger.tasks())
        events = await conn.fetch(
            " UNION ALL ".join(
                f"SELECT '{source}' AS source, event_id, topic, value, published_at FROM {source}.outbox "
                "WHERE key = ANY($1)"
                for source in ("assignment", "progress", "alerts")
            ),
            tasks,
        )
        for source in ("assignment", "progress"):
            row = next(r for r in report.rows if r.service == source)
            row.lost += sum(1 for e in events if e["source"] == source and e["published_at"] is None)
        published = [e for e in events if e["published_at"] is not None]
        for service in CONSUMERS:
            report.rows.append(await _consumer(conn, service, published, tasks, settings))
        report.facts = await _facts(conn, tasks)
    finally:
        await conn.close()
    return report


async def _commands(conn: asyncpg.Connection, ledger: Ledger, report: Report) -> None:
    bad = [s for s in ledger.sent if s.op.startswith("bad-")]
    report.bad_sent = len(bad)
    report.bad_rejected = sum(1 for s in bad if s.outcome == "rejected")
    good = [s for s in ledger.sent if not s.op.startswith("bad-")]
    report.gave_up = sum(1 for s in good if s.outcome == "gave-up")
    report.refused = Counter(s.op for s in good if s.outcome == "refused")

    assigned = ledger.accepted("assign")
    tasks = list(ledger.tasks())
    exist = {
        r["task_id"] for r in await conn.fetch("SELECT task_id FROM assignment.tasks WHERE task_id = ANY($1)", tasks)
    }
    made = Counter(
        r["key"]
        for r in await conn.fetch(
            "SELECT key, value FROM assignment.outbox WHERE key = ANY($1)", [s.task_id for s in assigned]
        )
        if _type(r) == "TaskAssigned"
    )
    extensions = len(ledger.accepted("delegate", "extension"))
    children = {c for s in ledger.accepted("delegate") for c in s.children}
    row = Row("assignment", "commands (HTTP, intake)", sent=len(assigned) + extensions)
    row.applied = sum(1 for s in assigned if s.task_id in exist) + sum(
        1 for s in ledger.accepted("delegate") if all(c in exist for c in s.children)
    ) + len(ledger.accepted("extension"))  # fmt: skip
    row.lost = row.sent - row.applied
    row.duplicated = sum(n - 1 for key, n in made.items() if n > 1 and key not in children)
    report.rows.append(row)

    progress = ledger.accepted("progress", "complete", "confirm")
    ids = [s.event_id for s in progress if s.event_id]
    stored = Counter(
        str(r["event_id"])
        for r in await conn.fetch("SELECT event_id FROM progress.outbox WHERE event_id = ANY($1::uuid[])", ids)
    )
    row = Row("progress", "commands (HTTP)", sent=len(progress))
    row.applied = sum(1 for s in progress if stored[s.event_id])
    row.lost = row.sent - row.applied
    row.duplicated = len(ids) - len(set(ids))  # two commands answered with one event: one was not applied
    report.rows.append(row)


async def _consumer(
    conn: asyncpg.Connection, service: str, events: list[asyncpg.Record], tasks: list[str], settings: Settings
) -> Row:
    topics, types = handled_types(service, settings)
    expected = {e["event_id"] for e in events if e["topic"] in topics and (ALL_EVENTS in types or _type(e) in types)}
    row = Row(service, "events consumed", sent=len(expected))
    rows = await conn.fetch(f"SELECT event_id FROM {service}.inbox WHERE event_id = ANY($1::uuid[])", list(expected))
    inbox = {r["event_id"] for r in rows}
    row.applied = len(inbox)
    keys = [t.encode() for t in tasks]
    row.dead_lettered = await conn.fetchval(f"SELECT count(*) FROM {service}.dead_letters WHERE key = ANY($1)", keys)
    row.lost = max(len(expected - inbox) - row.dead_lettered, 0)
    if service == "audit":
        row.duplicated = await conn.fetchval(
            "SELECT count(*) - count(DISTINCT event_id) FROM audit.events WHERE task_id = ANY($1)", tasks
        )
    elif service == "alerts":
        row.duplicated = await conn.fetchval(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM alerts.alerts WHERE task_id = ANY($1) "
            "GROUP BY task_id, kind, threshold, recipient_person_id) AS per_alert",
            tasks,
        )
    return row


def _type(event: asyncpg.Record) -> str:
    return str(json.loads(bytes(event["value"]))["event_type"])


async def _facts(conn: asyncpg.Connection, tasks: list[str]) -> dict[str, Any]:
    """What else an operator wants to see after a drill (not pass/fail)."""
    facts: dict[str, Any] = {}
    facts["alerts raised"] = await conn.fetchval("SELECT count(*) FROM alerts.alerts WHERE task_id = ANY($1)", tasks)
    facts["overdue alerts"] = await conn.fetchval(
        "SELECT count(*) FROM alerts.alerts WHERE task_id = ANY($1) AND kind = 'overdue'", tasks
    )
    try:  # deliveries exist for people with a webhook or e-mail; the drill's seed people have none by default
        facts["alert deliveries"] = await conn.fetchval(
            "SELECT count(*) FROM alerts.deliveries WHERE task_id = ANY($1)", tasks
        )
    except asyncpg.PostgresError as exc:
        facts["alert deliveries"] = f"unknown ({exc})"
    facts["reporting: tasks projected"] = await conn.fetchval(
        "SELECT count(*) FROM reporting.tasks WHERE task_id = ANY($1)", tasks
    )
    facts["parked outbox rows"] = sum(
        [await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE parked_at IS NOT NULL") for s in SERVICES]
    )
    return facts
