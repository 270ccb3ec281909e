"""SQL of extension requests (gia hạn): one pending request per task, decided once."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict

from events.deadlines import Deadline
from events.tasks import SourceDocument

Conn: TypeAlias = "asyncpg.Connection | asyncpg.Pool"


class ExtensionRequest(BaseModel):
    """A row of ``extension_requests``, its JSON columns read into their models; the HTTP API shows it so."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    task_id: str
    requested_by_agency_id: str
    idempotency_key: str
    reason: str
    proposed_deadline: Deadline
    requested_at: datetime
    status: str
    decided_by_agency_id: str | None
    decided_at: datetime | None
    decision_reason: str | None
    decided_deadline: Deadline | None
    decision_document: SourceDocument | None


class AwaitingDecision(ExtensionRequest):
    """A pending request with what the deciding agency needs to know of its task."""

    code: str
    title: str
    lead_agency_id: str


_COLUMNS = ", ".join(f"e.{name}" for name in ExtensionRequest.model_fields)


R = TypeVar("R", bound=ExtensionRequest)


def _request(row: asyncpg.Record, kind: type[R]) -> R:
    columns = dict(row)
    decided, document = columns.pop("decided_deadline"), columns.pop("decision_document")
    return kind(
        **{
            **columns,
            "proposed_deadline": Deadline.model_validate_json(row["proposed_deadline"]),
            "decided_deadline": Deadline.model_validate_json(decided) if decided is not None else None,
            "decision_document": SourceDocument.model_validate_json(document) if document is not None else None,
        }
    )


async def insert(
    conn: asyncpg.Connection,
    request_id: str,
    task_id: str,
    agency_id: str,
    key: str,
    reason: str,
    proposed: Deadline,
    at: datetime,
) -> bool:
    """False when another request of this task is still pending (the partial unique index says so)."""
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO extension_requests (request_id, task_id, requested_by_agency_id,
                       idempotency_key, reason, proposed_deadline, requested_at)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)""",
                request_id,
                task_id,
                agency_id,
                key,
                reason,
                proposed.model_dump_json(),
                at,
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def get(conn: Conn, request_id: str, *, lock: bool = False) -> ExtensionRequest | None:
    lock_clause = " FOR UPDATE" if lock else ""
    sql = f"SELECT {_COLUMNS} FROM extension_requests e WHERE request_id = $1{lock_clause}"
    row = await conn.fetchrow(sql, request_id)
    return None if row is None else _request(row, ExtensionRequest)


async def decide(
    conn: asyncpg.Connection,
    request_id: str,
    status: str,
    agency_id: str,
    at: datetime,
    reason: str,
    deadline: Deadline | None,
    document: SourceDocument | None,
) -> None:
    await conn.execute(
        """UPDATE extension_requests SET status = $2, decided_by_agency_id = $3, decided_at = $4,
               decision_reason = $5, decided_deadline = $6::jsonb, decision_document = $7::jsonb
           WHERE request_id = $1""",
        request_id,
        status,
        agency_id,
        at,
        reason,
        deadline.model_dump_json() if deadline else None,
        document.model_dump_json() if document else None,
    )


async def of_task(conn: Conn, task_id: str) -> list[ExtensionRequest]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM extension_requests e WHERE task_id = $1 ORDER BY requested_at", task_id
    )
    return [_request(r, ExtensionRequest) for r in rows]


async def awaiting_decision(conn: Conn, agency_id: str, limit: int = 200) -> list[AwaitingDecision]:
    """Pending requests on the tasks ``agency_id`` assigned (it decides them), oldest first, with the task."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, t.code, t.title, t.lead_agency_id FROM extension_requests e JOIN tasks t USING (task_id)
           WHERE t.assigning_agency_id = $1 AND e.status = 'pending' ORDER BY e.requested_at LIMIT $2""",
        agency_id,
        limit,
    )
    return [_request(r, AwaitingDecision) for r in rows]
