"""HTTP entrypoints for an agency's operators: the deliveries to its people that failed (or are still
trying), and the retry of a failed one. Token required; an agency sees only its own (operators.py)."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from events.roles import Action
from services.alerts import operators
from services.alerts.operators import DeliveryView, Retried
from services.runtime.auth import CurrentAgency, needs
from services.runtime.logs import get_logger
from services.runtime.service import runtime_of

log = get_logger(__name__)


class Deliveries(BaseModel):
    """The calling agency's deliveries in one status, newest first."""

    agency_id: str
    status: Literal["failed", "pending"]
    deliveries: list[DeliveryView]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/alerts/deliveries", tags=["alerts: deliveries"])

    @router.get("")
    async def deliveries(
        request: Request,
        agency: CurrentAgency,
        status: Literal["failed", "pending"] = Query("failed", description="failed: gave up; pending: trying"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Deliveries:
        """Lần gửi cảnh báo thất bại: the calling agency's deliveries in that status, with attempts and last error."""
        rows = await operators.of_agency(runtime_of(request).pool, agency.agency_id, (status,), limit)
        return Deliveries(agency_id=agency.agency_id, status=status, deliveries=rows)

    @router.post("/{delivery_id}/retry", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
    async def retry(delivery_id: uuid.UUID, request: Request, agency: CurrentAgency) -> Retried:
        """Gửi lại: a failed delivery goes back to its worker now, attempts reset. Idempotent."""
        async with runtime_of(request).pool.acquire() as conn, conn.transaction():
            row = await operators.retry_failed(conn, delivery_id, agency.agency_id)
        if row.retried:
            log.info("failed delivery retried by an operator", delivery_id=str(delivery_id), agency=agency.agency_id)
        return row

    return router
