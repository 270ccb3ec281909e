"""HTTP entrypoints of the alerts service: inbox, live stream, acknowledgement, contacts."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints

from events.limits import EMAIL_MAX, LINK_MAX
from services.alerts import access, adapters, commands, directory_store
from services.alerts.channels.targets import TargetPolicy, TargetRefused
from services.alerts.commands import AckRejected
from services.alerts.config import AlertsConfig
from services.alerts.stream import Recheck, StreamHub
from services.runtime import auth
from services.runtime.auth import CurrentAgency
from services.runtime.service import runtime_of


class WebhookRegistration(BaseModel):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=LINK_MAX)] = Field(
        description="https, to a public host (or in a network of DONDOC_ALERTS_WEBHOOK_ALLOWED_NETWORKS)",
    )
    secret: str | None = Field(None, min_length=16, max_length=256, description="Omit to have one generated")


class EmailContact(BaseModel):
    # A light check only: the SMTP server is the judge of an address (no extra dependency for this).
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=EMAIL_MAX)


async def readable_person(
    request: Request,
    agency: CurrentAgency,
    person_id: Annotated[str, Query(min_length=1, description="Whose alerts (the caller's agency's person)")],
) -> str:
    """The person asked for, once the caller's token shows it is that person's agency (access.py);
    401 without a valid token, 403 for any other agency."""
    person = await access.agency_of(runtime_of(request).pool, person_id)
    try:
        access.check_read(agency.agency_id, person_id, person)
    except access.ReadRefused as exc:
        raise HTTPException(exc.status_code, _detail(exc)) from exc
    return person_id


ReadablePerson = Annotated[str, Depends(readable_person)]


def _detail(exc: access.ReadRefused) -> dict[str, str]:
    return {"code": exc.code, "message": str(exc), "message_vi": exc.message_vi}


def still_readable(request: Request, person_id: str) -> Recheck:
    """An open stream's re-check (stream.py): what the opening checked, asked again. The token still
    unrevoked and its agency active (auth.verify_unrevoked), and that agency still the person's
    (access.py; people move). A refusal is what the opening would answer now, with its HTTP status."""
    rt = runtime_of(request)
    # The token CurrentAgency accepted when the stream opened.
    _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))

    async def refusal() -> dict[str, Any] | None:
        async with rt.pool.acquire() as conn:
            try:
                reader = await auth.verify_unrevoked(rt.settings.token_secret, conn, token)
                access.check_read(reader.agency_id, person_id, await access.agency_of(conn, person_id))
            except auth.InvalidToken as exc:
                return {"status": 401, "code": "unauthorized", "message": str(exc), "message_vi": exc.message_vi}
            except access.ReadRefused as exc:
                return {"status": exc.status_code, **_detail(exc)}
        return None

    return refusal


def build_router(config: AlertsConfig, hub: StreamHub) -> APIRouter:
    router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

    @router.get("")
    async def inbox(
        request: Request, person_id: ReadablePerson, limit: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        """Hộp thư cảnh báo: a person's alerts, newest first; only for a token of the person's agency."""
        alerts = await adapters.inbox_of(runtime_of(request).pool, person_id, limit)
        return {"person_id": person_id, "alerts": alerts}

    @router.get("/stream", response_class=StreamingResponse)
    async def stream(
        request: Request,
        person_id: ReadablePerson,
        last_event_id: int | None = Header(None, alias="Last-Event-ID"),
    ) -> StreamingResponse:
        """Server-sent events of a person's alerts, live; resumes after ``Last-Event-ID``. Only for a
        token of the person's agency: checked when the stream opens, and again while it is open (at
        keep-alives and before sending new entries). Refused then, the stream ends with a ``refused``
        event whose data is the refusal (status, code, message, message_vi), as a 401/403 would say."""
        frames = hub.events(
            runtime_of(request).pool,
            person_id,
            last_event_id or 0,
            config.stream_keepalive_s,
            still_readable(request, person_id),
        )
        return StreamingResponse(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post("/{alert_id}/ack")
    async def acknowledge(alert_id: uuid.UUID, request: Request, agency: CurrentAgency) -> dict[str, Any]:
        """Đã nhận: the recipient's agency acknowledges; overdue reminders to them stop."""
        try:
            async with runtime_of(request).unit_of_work() as uow:
                return await commands.acknowledge(alert_id, agency.agency_id, uow)
        except AckRejected as exc:
            raise HTTPException(
                exc.status_code, {"code": exc.code, "message": str(exc), "message_vi": exc.message_vi}
            ) from exc

    @router.put("/webhook", status_code=status.HTTP_200_OK)
    async def register_webhook(body: WebhookRegistration, request: Request, agency: CurrentAgency) -> dict[str, str]:
        """The calling agency's system receives its people's alerts here, signed with the secret."""
        try:
            await TargetPolicy(config.webhook_allowed_networks).check(str(body.url))
        except TargetRefused as exc:
            refusal = {"code": exc.code, "message": exc.message_en, "message_vi": exc.message_vi}
            raise HTTPException(422, refusal) from exc
        secret = body.secret or secrets.token_urlsafe(32)
        await directory_store.set_webhook(runtime_of(request).pool, agency.agency_id, str(body.url), secret)
        return {"agency_id": agency.agency_id, "url": str(body.url), "secret": secret}

    @router.put("/contacts/{person_id}/email")
    async def set_email(person_id: str, body: EmailContact, request: Request, agency: CurrentAgency) -> dict[str, str]:
        """Where a person of the calling agency receives alerts by e-mail (the directory may also say)."""
        pool = runtime_of(request).pool
        person = await directory_store.get_person(pool, person_id)
        if person and person["agency_id"] and person["agency_id"] != agency.agency_id:
            raise HTTPException(
                403,
                {
                    "code": "not-your-person",
                    "message": f"{person_id} belongs to {person['agency_id']}",
                    "message_vi": "Chỉ cơ quan của người nhận được đặt địa chỉ thư của họ",
                },
            )
        await directory_store.set_email(pool, person_id, body.email)
        return {"person_id": person_id, "email": body.email}

    return router
