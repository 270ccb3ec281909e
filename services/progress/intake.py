"""Progress commands from agency systems on ``dondoc.intake`` (wire protocol: events/intake.py).

Division of labour with the assignment service, which reads the same topic: both read each record
with the same verdict (events/intake_verdict.py: signature, timestamp against the broker's append
time, body), so they agree whatever time each reads it. A validly signed, fresh, well-formed progress
command is answered here, and only here; every other record is the assignment service's. Such a
command runs through the same handlers as HTTP, acting as the submitting agency. Its answer is its
event, or one IntakeRejected keyed by the agency: not the lead, not found, invalid, replayed, from an
agency no longer active ('unknown-agency') or signed with a revoked key ('bad-signature') — the
assignment service's codes — which this service learns from the directory topic (runtime/revocations.py).

Invariants (tests/integration/test_progress_intake.py, test_intake_routing.py):
* Every record the verdict routes here is answered here, never "not-ours": a command that keeps
  failing is answered 'internal-error'.
* The inbox row (agency, command_id), the effects and any rejection commit together; a redelivered
  record changes nothing, the same command id at another position is refused as a replay.
* The agency and the key are judged before the ledger: a command refused for them is not recorded, so
  the agency may send it again under the same id, signed with the key of a new token.
* A refusal rolls back the command's partial effects (a savepoint), never the inbox row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from events.envelope import Actor, Envelope
from events.intake import PROGRESS_COMMANDS, IntakePosition, IntakeRejected
from events.intake_verdict import Command, for_progress, verdict
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
from services.runtime import intake_ledger, revocations
from services.runtime.agency_rejections import copy_to_agency
from services.runtime.definition import Runtime
from services.runtime.logs import bound, get_logger
from services.runtime.raw_consumer import RawConsumer, RawRecord
from services.runtime.refusals import Refused
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


def build(config: ProgressConfig) -> Callable[[Runtime], RawConsumer]:
    def for_runtime(rt: Runtime) -> RawConsumer:
        async def handle(record: RawRecord) -> str:
            command = verdict(record, rt.settings.token_secret)  # the same verdict the assignment service reaches
            if not for_progress(command):
                return "not-ours"
            with bound(command_type=command.command_type, command_id=command.command_id, agency_id=command.agency_id):
                async with rt.unit_of_work() as uow:
                    return await _run(record, command, uow, config)

        async def give_up(record: RawRecord, error: str, attempts: int) -> None:
            """A command of ours failed and nothing of it was committed: say so, or the agency never hears."""
            log.error("progress intake command failed; answered internal-error", error=error, attempts=attempts)
            try:
                command = verdict(record, rt.settings.token_secret)
            except Exception:  # the verdict itself fails: so it does in the assignment service, which answers
                return
            if not for_progress(command):
                return
            internal = Refused(
                "internal-error",
                f"the command could not be processed ({error}); nothing was recorded: send it again later",
                "Lỗi hệ thống khi xử lý lệnh; lệnh chưa được ghi nhận, hãy gửi lại sau",
                500,
            )
            async with rt.unit_of_work() as uow:
                await _reject(uow, record, command.agency_id, command, internal)

        return RawConsumer(handle, give_up)

    return for_runtime


async def _run(record: RawRecord, command: Command, uow: UnitOfWork, config: ProgressConfig) -> str:
    agency, command_id, command_type = command.agency_id, command.command_id, command.command_type
    here = Position(record.topic, record.partition, record.offset)
    if await intake_ledger.first_read_at(uow.conn, agency_id=agency, command_id=command_id) == here:
        return "duplicate"  # Kafka delivered it again: its outcome is committed, whatever changed since
    if refused := await _standing(uow, command):
        await _reject(uow, record, agency, command, refused)  # not in the ledger: it may come again, signed anew
        return f"rejected:{refused.code}"
    receipt = await intake_ledger.receive(
        uow.conn,
        agency_id=agency,
        command_id=command_id,
        command_type=command_type,
        at=here,
        received_at=uow.clock.now(),
    )
    if not receipt.first:
        replayed = Refused(
            "replayed",
            f"command {command_id!r} was already received",
            f"Lệnh {command_id!r} đã được nhận trước đó: bản gửi lại bị từ chối",
            409,
        )
        await _reject(uow, record, agency, command, replayed)
        return "rejected:replayed"
    model, run = COMMANDS[command_type]
    payload = {"idempotency_key": command_id, **command.payload}
    task_id = str(payload.pop("task_id", ""))
    try:
        async with uow.conn.transaction():  # a savepoint: a refusal undoes the command's effects only
            try:
                validated = model.model_validate(payload)
            except ValidationError as exc:
                raise Refused(
                    "invalid-command",
                    f"invalid {command_type}: {exc.errors()[:3]}",
                    f"Nội dung lệnh {command_type} không hợp lệ",
                    422,
                ) from exc
            event = await run(task_id, validated, agency, uow, config)
    except Refused as exc:
        await intake_ledger.mark_rejected(uow.conn, agency_id=agency, command_id=command_id, code=exc.code)
        await _reject(uow, record, agency, command, exc)
        return f"rejected:{exc.code}"
    return f"accepted:{event.event_type}"


async def _standing(uow: UnitOfWork, command: Command) -> Refused | None:
    """The same checks, codes and order as the assignment service's for its own commands."""
    agency, key_id = command.agency_id, command.key_id
    revoked, inactive = await revocations.standing(uow.conn, key_id, agency)
    if inactive:
        return Refused(
            "unknown-agency",
            f"{agency!r} is not an active agency",
            f"Cơ quan {agency!r} không có trong danh bạ hoặc đã ngừng hoạt động",
            403,
        )
    if revoked:
        return Refused(
            "bad-signature",
            f"key {key_id!r} of {agency} was revoked; sign with the key of a new token (`dondoc token issue {agency}`)",
            "Khóa ký đã bị thu hồi; hãy ký bằng khóa của mã xác thực mới được cấp",
            401,
        )
    return None


async def _reject(uow: UnitOfWork, record: RawRecord, agency: str, command: Command, exc: Refused) -> None:
    log.info("intake command rejected", code=exc.code)
    envelope = await uow.emit(
        IntakeRejected(
            agency_id=agency,
            command_type=command.command_type,
            command_id=command.command_id,
            code=exc.code,
            message_en=exc.message_en,
            message_vi=exc.message_vi,
            record=IntakePosition(topic=record.topic, partition=record.partition, offset=record.offset),
        ),
        actor=Actor(agency_id=agency),
        key=agency,
        id_parts=(record.topic, record.partition, record.offset),
    )
    await copy_to_agency(uow, envelope, agency)  # the agency reads its own, on its own topic
