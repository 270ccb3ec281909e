"""Progress commands from agency systems on ``dondoc.intake`` (wire protocol: events/intake.py).

Division of labour with the assignment service, which reads the same topic: it answers every record
that is unsigned, badly signed, stale, malformed or of an unknown type; it leaves well-formed progress
commands (PROGRESS_COMMANDS) to this service. Here such a command is verified again (never act on a
forgery), then runs through the same handlers as HTTP, acting as the submitting agency. Its answer is
its event, or one IntakeRejected keyed by the agency: not the lead, not found, invalid, replayed, from
an agency no longer active ('unknown-agency') or signed with a revoked key ('bad-signature') — the
assignment service's codes — which this service learns from the directory topic
(runtime/revocations.py). The assignment service leaves every authentic progress command here before
judging agency and key, so each is answered once, by this service.

Invariants (tests/integration/test_progress_intake.py):
* The inbox row (agency, command_id), the effects and any rejection commit together; a redelivered
  record changes nothing, the same command id at another position is refused as a replay.
* A refusal rolls back the command's partial effects (a savepoint), never the inbox row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from events.envelope import Actor, Envelope
from events.intake import (
    AGENCY_HEADER,
    KEY_ID_HEADER,
    PROGRESS_COMMANDS,
    REPLAY_WINDOW_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IntakePosition,
    IntakeRejected,
    signature_matches,
    signing_key,
)
from services.progress import command_handlers as h
from services.progress.commands import (
    AddNote,
    ConfirmCompletion,
    ReportCompletion,
    ReportProgress,
    ReturnCompletion,
    SetLeadTimes,
)
from services.progress.config import ProgressConfig
from services.progress.domain import ProgressRejected
from services.runtime import intake_ledger, revocations
from services.runtime.logs import bound, get_logger
from services.runtime.raw_consumer import RawConsumer, RawRecord
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Position, UnitOfWork

log = get_logger(__name__)

Run = Callable[[str, Any, str, UnitOfWork, ProgressConfig], Awaitable[Envelope]]
COMMANDS: dict[str, tuple[type[BaseModel], Run]] = {
    "ReportProgress": (ReportProgress, lambda t, c, a, u, _: h.report_progress(t, c, a, u)),
    "ReportCompletion": (ReportCompletion, lambda t, c, a, u, _: h.report_completion(t, c, a, u)),
    "ConfirmCompletion": (ConfirmCompletion, h.confirm_completion),
    "ReturnCompletion": (ReturnCompletion, h.return_completion),
    "AddNote": (AddNote, lambda t, c, a, u, _: h.add_note(t, c, a, u)),
    "SetLeadTimes": (SetLeadTimes, h.set_lead_times),
}
assert set(COMMANDS) == set(PROGRESS_COMMANDS), "every progress intake command has a handler"


def _verified(record: RawRecord, secret: str, now_s: float) -> dict[str, Any] | None:
    """The body of a well-formed, validly signed, fresh progress command; None for anything the
    assignment service answers (it refuses what is unsigned, forged, stale or malformed)."""
    agency, key_id = record.header(AGENCY_HEADER), record.header(KEY_ID_HEADER)
    stamp, signature = record.header(TIMESTAMP_HEADER), record.header(SIGNATURE_HEADER)
    if not (agency and key_id and stamp and signature and record.value):
        return None
    if not signature_matches(signing_key(secret, agency, key_id), stamp, record.value, signature):
        return None
    if not stamp.isdigit() or abs(now_s - int(stamp)) > REPLAY_WINDOW_S:
        return None
    try:
        body = json.loads(record.value)
    except ValueError:
        return None
    ok = isinstance(body, dict) and body.get("command_type") in PROGRESS_COMMANDS
    return body if ok and isinstance(body.get("payload"), dict) and isinstance(body.get("command_id"), str) else None


def build(config: ProgressConfig) -> Callable[[Runtime], RawConsumer]:
    def for_runtime(rt: Runtime) -> RawConsumer:
        async def handle(record: RawRecord) -> str:
            body = _verified(record, rt.settings.token_secret, time.time())
            if body is None:
                return "not-ours"
            agency = record.header(AGENCY_HEADER) or ""
            with bound(command_type=body["command_type"], command_id=body["command_id"], agency_id=agency):
                async with rt.unit_of_work() as uow:
                    return await _run(record, body, agency, uow, config)

        async def give_up(record: RawRecord, error: str, attempts: int) -> None:
            log.error("progress intake command failed; left for an operator", error=error, attempts=attempts)

        return RawConsumer(handle, give_up)

    return for_runtime


async def _run(record: RawRecord, body: dict[str, Any], agency: str, uow: UnitOfWork, config: ProgressConfig) -> str:
    command_type, command_id, key_id = body["command_type"], body["command_id"], record.header(KEY_ID_HEADER) or ""
    receipt = await intake_ledger.receive(
        uow.conn, agency_id=agency, command_id=command_id, command_type=command_type,
        at=Position(record.topic, record.partition, record.offset), received_at=uow.clock.now(),
    )
    if not receipt.first:
        if receipt.is_redelivery_of(Position(record.topic, record.partition, record.offset)):
            return "duplicate"
        await _reject(
            uow,
            record,
            agency,
            body,
            ProgressRejected(
                409,
                "replayed",
                f"command {command_id!r} was already received",
                f"Lệnh {command_id!r} đã được nhận trước đó: bản gửi lại bị từ chối",
            ),
        )
        return "rejected:replayed"
    model, run = COMMANDS[command_type]
    payload = {"idempotency_key": command_id, **body["payload"]}
    task_id = str(payload.pop("task_id", ""))
    try:
        async with uow.conn.transaction():  # a savepoint: a refusal undoes the command's effects only
            # The same checks, codes and order as the assignment service's for its own commands.
            if await revocations.is_inactive(uow.conn, agency):
                raise ProgressRejected(
                    403,
                    "unknown-agency",
                    f"{agency!r} is not an active agency",
                    f"Cơ quan {agency!r} không có trong danh bạ hoặc đã ngừng hoạt động",
                )
            if await revocations.is_revoked(uow.conn, key_id):
                raise ProgressRejected(
                    401,
                    "bad-signature",
                    f"key {key_id!r} of {agency} was revoked; sign with the key of a new token "
                    f"(`dondoc token issue {agency}`)",
                    "Khóa ký đã bị thu hồi; hãy ký bằng khóa của mã xác thực mới được cấp",
                )
            try:
                command = model.model_validate(payload)
            except ValidationError as exc:
                raise ProgressRejected(
                    422,
                    "invalid-command",
                    f"invalid {command_type}: {exc.errors()[:3]}",
                    f"Nội dung lệnh {command_type} không hợp lệ",
                ) from exc
            event = await run(task_id, command, agency, uow, config)
    except ProgressRejected as exc:
        await intake_ledger.mark_rejected(uow.conn, agency_id=agency, command_id=command_id, code=exc.code)
        await _reject(uow, record, agency, body, exc)
        return f"rejected:{exc.code}"
    return f"accepted:{event.event_type}"


async def _reject(uow: UnitOfWork, record: RawRecord, agency: str, body: dict[str, Any], exc: ProgressRejected) -> None:
    log.info("intake command rejected", code=exc.code)
    await uow.emit(
        IntakeRejected(
            agency_id=agency,
            command_type=body["command_type"],
            command_id=body["command_id"],
            code=exc.code,
            message_en=exc.message_en,
            message_vi=exc.message_vi,
            record=IntakePosition(topic=record.topic, partition=record.partition, offset=record.offset),
        ),
        actor=Actor(agency_id=agency),
        key=agency,
        id_parts=(record.topic, record.partition, record.offset),
    )
