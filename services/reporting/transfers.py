"""A reorganisation moved an open task (``TaskTransferred``): from the day the new structure works, the task
counts under the successor; before that day it still counts under the old agency.

So a report now reads the new structure, and a report as of a day before the decision took effect reads the
old one (DESIGN §4 "Reorganisation"): the task's history rows from that day on name the successor (the row
that straddles the day is cut in two), the rows before keep the old agency. At any moment a task has one
lead, so the old agency's figures are neither lost nor counted twice; a completed task never moves, so it
stays credited to the agency that did it. A delegated child's ``parent_lead`` follows its parent, so the
child still counts where its parent does not (adapters.py).

The journal follows the history exactly as a batch flush does, with the same two functions: the touched
tasks' rows as they were are taken out and the new ones put in (``adapters.journal_since_snapshot``), in the
handler's transaction, under the same locks in the same order (adapters.py): the ``live`` lock shared, the
task's family, then the tasks by id.
"""

from __future__ import annotations

from events.envelope import Envelope
from events.tasks import TaskTransferred, parties_after
from services.reporting import adapters, history_cuts
from services.reporting.domain import OPEN_BUCKETS
from services.runtime.logs import get_logger
from services.runtime.unit_of_work import UnitOfWork

log = get_logger(__name__)


async def on_task_transferred(event: Envelope, uow: UnitOfWork) -> None:
    transfer = event.payload
    assert isinstance(transfer, TaskTransferred) and event.task_id
    conn, task_id = uow.conn, event.task_id
    await conn.execute(adapters.LIVE_LOCK)
    # The task's family lock, as a batch assigning a child of it takes (adapters.TaskBatch.open): a child
    # assigned side by side in another partition would otherwise miss this move, and this move the child.
    await conn.execute(adapters.FAMILY_LOCK, [task_id])
    rows = await conn.fetch(
        """SELECT task_id, parent_task_id, assigning_agency_id, lead_agency_id, coordinating_agency_ids,
                  officer_in_charge_id, bucket
           FROM tasks WHERE task_id = $1 OR parent_task_id = $1 ORDER BY task_id FOR UPDATE""",
        task_id,
    )
    task = next((r for r in rows if r["task_id"] == task_id), None)
    if task is None:
        log.warning("transfer of a task the reporting service does not know")
        return
    if task["bucket"] not in OPEN_BUCKETS | {"nodl_open"}:
        # Completed (or withdrawn) while the decision was being applied: it stays credited to the agency
        # that did it; only open tasks move.
        log.info("transfer of a task no longer open; its figures stay where they are")
        return
    lead, coordinating, officer = parties_after(
        task["lead_agency_id"], tuple(task["coordinating_agency_ids"]), task["officer_in_charge_id"], transfer
    )
    if (lead, coordinating) == (task["lead_agency_id"], tuple(task["coordinating_agency_ids"])):
        return  # already holds (the decision named an agency the task no longer has)
    decision = transfer.decision  # listed for the dashboard; children read later follow it
    await conn.execute(
        """INSERT INTO transfers VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING""",
        task_id,
        transfer.reorganisation_id,
        transfer.role,
        transfer.from_agency_id,
        transfer.to_agency_id,
        decision.number,
        decision.issued_on,
        decision.issuer,
        transfer.effective_on,
    )
    children = [r["task_id"] for r in rows if r["task_id"] != task_id] if lead != task["lead_agency_id"] else []
    touched = sorted([task_id, *children])
    at = history_cuts.moment(transfer.effective_on)
    await adapters.snapshot_history(conn, touched)
    # On the recorded axis the cut counts as on time (recorded_from/to left empty), however late the decision
    # was applied: a child read after its parent's transfer cannot know when the transfer was recorded, and a
    # replay must rebuild exactly what the live service holds.
    await history_cuts.cut(conn, [task_id], at)
    involved = list(dict.fromkeys((task["assigning_agency_id"], lead, *coordinating)))
    await conn.execute(
        "UPDATE task_history SET lead_agency_id = $2, involved = $3 WHERE task_id = $1 AND valid_from >= $4",
        task_id,
        lead,
        involved,
        at,
    )
    await conn.execute(
        """UPDATE tasks SET lead_agency_id = $2, coordinating_agency_ids = $3, officer_in_charge_id = $4
           WHERE task_id = $1""",
        task_id,
        lead,
        list(coordinating),
        officer,
    )
    if children:
        # Their whole parent-lead timeline, this move included (recorded above), as a batch's flush does.
        await history_cuts.follow(conn, await history_cuts.parent_moves(conn, children))
    await adapters.ensure_agencies(conn, [lead])
    await adapters.journal_since_snapshot(conn, touched)
