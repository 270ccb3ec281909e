"""HTTP entrypoints of the alerts service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from services.alerts import adapters
from services.runtime.service import runtime_of

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("")
async def inbox(request: Request, person_id: str = Query(..., min_length=1),
                limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Hộp thư cảnh báo: a person's alerts, newest first."""
    alerts = await adapters.inbox_of(runtime_of(request).pool, person_id, limit)
    return {"person_id": person_id, "alerts": alerts}
