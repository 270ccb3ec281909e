"""Việc của tôi and Chờ lãnh đạo quyết định: the tasks a signed-in person works, and the ones waiting for
their agency's decision, for the dashboard (services/reporting/dashboard_actions.py relays it).

* ``mine``: open tasks whose officer in charge is the person, led by their agency (their work).
* ``to_decide``: tasks their agency assigned whose completion was reported and waits to be confirmed or
  returned; only for a role that decides (events/roles.py), and for a machine caller of the agency.

Both are tasks the agency is involved in (lead or assigner), so the access rule shows them all; the
lists are bounded, most urgent first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from events.roles import Action, may
from services.runtime.auth import CurrentAgency
from services.runtime.service import runtime_of

LIMIT = 200
OPEN = ("assigned", "in_progress", "completion_reported")
_COLUMNS = """task_id, code, title, status, percent, due, assigning_agency_id, lead_agency_id,
              officer_in_charge_id, reported_on, product, classification"""

router = APIRouter(prefix="/v1/worklist", tags=["progress"])


@router.get("")
async def worklist(request: Request, principal: CurrentAgency) -> dict[str, Any]:
    """The caller's own open tasks (a person's) and their agency's tasks waiting for a decision."""
    pool = runtime_of(request).pool
    mine: list[Any] = []
    if principal.person_id is not None:
        mine = await pool.fetch(
            f"""SELECT {_COLUMNS} FROM tasks
                WHERE officer_in_charge_id = $1 AND lead_agency_id = $2 AND status = ANY($3)
                ORDER BY due NULLS LAST, code LIMIT {LIMIT}""",
            principal.person_id,
            principal.agency_id,
            list(OPEN),
        )
    to_decide: list[Any] = []
    if principal.person_id is None or may(principal.roles, Action.CONFIRM_COMPLETION):
        to_decide = await pool.fetch(
            f"""SELECT {_COLUMNS} FROM tasks WHERE assigning_agency_id = $1 AND status = 'completion_reported'
                ORDER BY reported_on NULLS LAST, code LIMIT {LIMIT}""",
            principal.agency_id,
        )
    return {"mine": [_row(r) for r in mine], "to_decide": [_row(r) for r in to_decide]}


def _row(r: Any) -> dict[str, Any]:
    row = dict(r)
    for day in ("due", "reported_on"):
        row[day] = row[day].isoformat() if row[day] else None
    return row
