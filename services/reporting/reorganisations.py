"""What the dashboard shows of reorganisations: each decision that moved tasks, which agency went into which,
from which day — so a reader can switch between the new structure (now) and the old one (as of the day
before it took effect). Counts only public tasks: a secret task's move is not published (DESIGN §4
"Secrecy")."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from services.reporting.responses import Decision, Reorganisation, Reorganisations, json_response
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/reorganisations", response_model=Reorganisations)
async def reorganisations(request: Request) -> Response:
    """Each decision that moved public tasks: the agencies merged or split, and ``old_structure_as_of``, the
    last day the old structure held (the as_of that reads it)."""
    rows = await runtime_of(request).pool.fetch(
        """SELECT x.reorganisation_id, x.decision_number, x.decision_issued_on, x.decision_issuer, x.effective_on,
                  x.from_agency_id, f.name AS from_name, x.to_agency_id, s.name AS to_name,
                  count(DISTINCT x.task_id) AS tasks
           FROM transfers x JOIN tasks t ON t.task_id = x.task_id AND coalesce(t.classification, 'mat') <> 'mat'
                LEFT JOIN agencies f ON f.agency_id = x.from_agency_id
                LEFT JOIN agencies s ON s.agency_id = x.to_agency_id
           GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
           ORDER BY x.effective_on DESC, x.reorganisation_id, x.from_agency_id, x.to_agency_id
           LIMIT 500"""
    )
    return json_response(
        Reorganisations(
            reorganisations=[
                Reorganisation(
                    reorganisation_id=r["reorganisation_id"],
                    from_agency_id=r["from_agency_id"],
                    to_agency_id=r["to_agency_id"],
                    tasks=r["tasks"],
                    decision=Decision(
                        number=r["decision_number"],
                        issued_on=r["decision_issued_on"].isoformat(),
                        issuer=r["decision_issuer"],
                    ),
                    effective_on=r["effective_on"].isoformat(),
                    old_structure_as_of=(r["effective_on"] - timedelta(days=1)).isoformat(),
                    from_name=r["from_name"] or r["from_agency_id"],
                    to_name=r["to_name"] or r["to_agency_id"],
                )
                for r in rows
            ]
        )
    )
