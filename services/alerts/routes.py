"""HTTP entrypoints of the alerts service: inbox, live stream, acknowledgement, contacts."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints
from sse_starlette import EventSourceResponse

from events.limits import EMAIL_MAX, LINK_MAX
from events.roles import Action
from services.alerts import access, adapters, commands, directory_store
from services.alerts.channels.targets import TargetPolicy
from services.alerts.config import AlertsConfig
from services.alerts.domain import InboxEntry
from services.alerts.stream import Recheck, StreamHub
from services.runtime import auth
from services.runtime.access import Principal
from services.runtime.auth import CurrentAgency, needs
from services.runtime.coalescing import Gathered
from services.runtime.definition import Runtime
from services.runtime.refusals import Refused
from services.runtime.service import runtime_of


class WebhookRegistration(BaseModel):
    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=LINK_MAX)] = Field(
        description="https, to a public host (or in a network of DONDOC_ALERTS_WEBHOOK_ALLOWED_NETWORKS)",
    )
    secret: str | None = Field(None, min_length=16, max_length=256, description="Omit to have one generated")


class Inbox(BaseModel):
    """A person's alerts, newest first (the dashboard reads them)."""

    person_id: str
    alerts: list[InboxEntry]


class Acknowledged(BaseModel):
    """When the alert was first acknowledged (in Vietnam's time zone); a second acknowledgement says the same."""

    model_config = ConfigDict(from_attributes=True)  # built from commands.Acknowledgement

    alert_id: uuid.UUID
    acknowledged_at: datetime


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
    access.check_read(agency.agency_id, person_id, await access.agency_of(runtime_of(request).pool, person_id))
    return person_id


ReadablePerson = Annotated[str, Depends(readable_person)]


@dataclass(frozen=True, eq=False)
class _Standing:
    """One open stream's re-check, its token already verified (signature, expiry; no database read)."""

    rt: Runtime
    token: str
    reader: Principal
    person_id: str


async def _refusals(asked: Sequence[_Standing]) -> list[Refused | None]:
    """The standing half of many streams' re-checks, woken together: per service (one, but for tests running
    several in a process), one read of the tokens' standing and one of the people's agencies for all of
    them (auth.standings, access.agencies_of), by the rules a single check follows."""
    answers: list[Refused | None] = [None] * len(asked)
    by_runtime: dict[int, list[int]] = {}
    for i, a in enumerate(asked):
        by_runtime.setdefault(id(a.rt), []).append(i)
    for indexes in by_runtime.values():
        rt = asked[indexes[0]].rt
        async with rt.pool.acquire() as conn:
            tokens = [(asked[i].token, asked[i].reader) for i in indexes]
            standing = await auth.standings(
                conn, rt.settings, tokens, rt.definition.token_standing, rt.definition.person_standing
            )
            agencies = await access.agencies_of(conn, [asked[i].person_id for i in indexes])
        for i, invalid in zip(indexes, standing, strict=True):
            if invalid is not None:
                answers[i] = invalid.refusal()
                continue
            try:
                access.check_read(asked[i].reader.agency_id, asked[i].person_id, agencies[asked[i].person_id])
            except Refused as exc:
                answers[i] = exc
    return answers


def still_readable(request: Request, person_id: str, standing: Gathered[_Standing, Refused | None]) -> Recheck:
    """An open stream's re-check (stream.py): what the opening checked, asked again. The token still
    unrevoked and unexpired and its agency active (auth.principal_of), and that agency still the person's
    (access.py; people move). A refusal is what the opening would answer now, with its HTTP status. The
    standing is asked through ``standing``, gathered with the other streams' woken at the same time."""
    rt = runtime_of(request)
    # The token CurrentAgency accepted when the stream opened.
    _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))

    async def refusal() -> dict[str, Any] | None:
        try:
            try:
                reader = await auth.verified(request, token)  # agency token or a person's, as at opening
            except auth.InvalidToken as exc:
                raise exc.refusal() from exc
            if refused := await standing.ask(_Standing(rt, token, reader, person_id)):
                raise refused
        except Refused as exc:
            return {"status": exc.status_code, **exc.detail()}
        return None

    return refusal


def build_router(config: AlertsConfig, hub: StreamHub) -> APIRouter:
    router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
    standing: Gathered[_Standing, Refused | None] = Gathered(_refusals)

    @router.get("")
    async def inbox(request: Request, person_id: ReadablePerson, limit: int = Query(100, ge=1, le=1000)) -> Inbox:
        """Hộp thư cảnh báo: a person's alerts, newest first; only for a token of the person's agency."""
        return Inbox(person_id=person_id, alerts=await adapters.inbox_of(runtime_of(request).pool, person_id, limit))

    @router.get("/stream", response_class=EventSourceResponse)
    async def stream(
        request: Request,
        person_id: ReadablePerson,
        agency: CurrentAgency,
        last_event_id: int | None = Header(None, alias="Last-Event-ID"),
    ) -> EventSourceResponse:
        """Server-sent events of a person's alerts, live; resumes after ``Last-Event-ID``. Only for a
        token of the person's agency: checked when the stream opens, and again while it is open (at
        keep-alives and before sending new entries). Refused then, the stream ends with a ``refused``
        event whose data is the refusal (status, code, message, message_vi), as a 401/403 would say.
        One token holds at most ``max_streams_per_token`` open streams: 429 beyond."""
        slot = hub.reserve(agency.token_id, config.max_streams_per_token)
        if slot is None:
            raise Refused(
                "too-many-streams",
                f"this token already holds {config.max_streams_per_token} open alert streams; close one first",
                f"Mã xác thực này đã mở tối đa {config.max_streams_per_token} luồng cảnh báo; hãy đóng bớt một luồng",
                429,
            )
        frames = hub.events(
            runtime_of(request).pool,
            person_id,
            last_event_id or 0,
            config.stream_keepalive_s,
            still_readable(request, person_id, standing),
            slot,
        )
        # ping=0: the keep-alives are the stream's own (each is also a re-check, stream.py).
        return EventSourceResponse(frames, ping=0, sep="\n", headers={"Cache-Control": "no-cache"})

    @router.post("/{alert_id}/ack", dependencies=[needs(Action.ACKNOWLEDGE_ALERT)])
    async def acknowledge(alert_id: uuid.UUID, request: Request, agency: CurrentAgency) -> Acknowledged:
        """Đã nhận: the recipient's agency acknowledges; overdue reminders to them stop."""
        async with runtime_of(request).unit_of_work() as uow:
            done = await commands.acknowledge(alert_id, agency.agency_id, uow)
        return Acknowledged.model_validate(done)

    @router.put("/webhook", status_code=status.HTTP_200_OK, dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
    async def register_webhook(body: WebhookRegistration, request: Request, agency: CurrentAgency) -> dict[str, str]:
        """The calling agency's system receives its people's alerts here, signed with the secret."""
        await TargetPolicy(config.webhook_allowed_networks).check(str(body.url))  # TargetRefused: a 422 Refused
        secret = body.secret or secrets.token_urlsafe(32)
        await directory_store.set_webhook(runtime_of(request).pool, agency.agency_id, str(body.url), secret)
        return {"agency_id": agency.agency_id, "url": str(body.url), "secret": secret}

    @router.put("/contacts/{person_id}/email", dependencies=[needs(Action.ADMINISTER_DIRECTORY)])
    async def set_email(person_id: str, body: EmailContact, request: Request, agency: CurrentAgency) -> dict[str, str]:
        """Where a person of the calling agency receives alerts by e-mail (the directory may also say). The
        same rule as reading their alerts (access.py): only the person's own agency, and a person whose agency
        is unknown is nobody's, so nobody can claim their address in advance and receive their alerts."""
        pool = runtime_of(request).pool
        access.check_read(agency.agency_id, person_id, await access.agency_of(pool, person_id))
        await directory_store.set_email(pool, person_id, body.email)
        return {"person_id": person_id, "email": body.email}

    return router
