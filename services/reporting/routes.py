"""HTTP entrypoints of the reporting service."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request

from services.reporting import adapters
from services.reporting.domain import LABELS_VI
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/summary")
async def summary(
    request: Request,
    document: str | None = Query(None, description="Source document number, e.g. 131/NQ-CP"),
    agency_id: str | None = Query(None, description="Lead agency"),
) -> dict[str, Any]:
    """Số liệu tổng hợp theo các tiêu chí của Tổ công tác."""
    rt = runtime_of(request)
    now = rt.clock.now()
    figures = await adapters.summary(rt.pool, now.date(), document, agency_id)
    return {
        "as_of": now.isoformat(),
        "filters": {"document": document, "agency_id": agency_id},
        "figures": figures.model_dump(),
        "labels_vi": LABELS_VI,
    }
