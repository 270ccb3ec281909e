"""Handling one record of ``dondoc.intake``: verify, de-duplicate, run, or refuse with a reason.

Invariants (tests/integration/test_intake.py, test_intake_routing.py):
* Every record ends in exactly one answer: the command's own events, or one IntakeRejected keyed by
  the submitting agency. Which records are the progress service's is decided by the verdict both
  services share (events/intake_verdict.py), never by a clock of either: those are left to it.
* The inbox row (agency, command_id), the command's effects and its rejection commit together. The
  same command at the same Kafka position is a redelivery and changes nothing (even if the agency or
  its key lost its standing since); at another position it is a replay and is refused. A rejection's
  event id comes from the record's position, so a redelivered bad record never yields two rejections.
* A refusal of the agency or its key (inactive, unknown or revoked) is not recorded in the ledger: the
  agency may send the same command id again, signed with a live key.
* A domain refusal rolls back the command's partial effects (a savepoint), never the inbox row.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from events.clock import Clock
from events.envelope import Actor
from events.intake import IntakePosition, IntakeRejected
from events.intake_verdict import Command, Refusal, claimed_agency, for_progress, verdict
from services.assignment import tokens
from services.assignment.errors import Rejected
from services.assignment.intake import dispatch
from services.runtime import intake_ledger
from services.runtime.agency_rejections import copy_to_agency
from services.runtime.consuming import Consumer, Record
from services.runtime.definition import Runtime
from services.runtime.logs import bound, get_logger
from services.runtime.raw_consumer import RawConsumer, RawRecord
from services.runtime.unit_of_work import Position, UnitOfWork

log = get_logger(__name__)


@dataclass
class IntakeProcessor:
    pool: asyncpg.Pool
    service: str
    schema: str
    clock: Clock
    secret: str

    async def handle(self, record: RawRecord) -> str:
        agency = claimed_agency(record)
        judged = verdict(record, self.secret)  # the same verdict the progress service reaches
        if isinstance(judged, Refusal):
            await self._reject_alone(record, agency, None, _rejected(judged))
            return f"rejected:{judged.code}"
        if for_progress(judged):
            # Its agency and key are the progress service's to judge from here (it knows revocations
            # and abolished agencies too): one answer per command, never two, never none.
            return "left-for-progress"
        with bound(command_type=judged.command_type, command_id=judged.command_id, agency_id=agency):
            return await self._run(record, judged, judged.agency_id)

    async def _run(self, record: RawRecord, body: Command, agency: str) -> str:
        here = Position(record.topic, record.partition, record.offset)
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, self.service, self.schema, self.clock)
            if await intake_ledger.first_read_at(conn, agency_id=agency, command_id=body.command_id) == here:
                return "duplicate"  # Kafka delivered it again: its outcome is committed, whatever changed since
            try:
                await _standing(conn, body)
            except Rejected as exc:  # not in the ledger: the command may come again, signed with a live key
                await _emit_rejection(uow, record, agency, body, exc)
                return f"rejected:{exc.code}"
            receipt = await intake_ledger.receive(
                conn,
                agency_id=agency,
                command_id=body.command_id,
                command_type=body.command_type,
                at=here,
                received_at=self.clock.now(),
            )
            if not receipt.first:
                return await self._seen_before(uow, record, body, agency, receipt)
            try:
                async with conn.transaction():  # a savepoint: a refusal undoes the command's effects only
                    made = await dispatch.run(body, agency, uow)
            except Rejected as exc:
                await intake_ledger.mark_rejected(conn, agency_id=agency, command_id=body.command_id, code=exc.code)
                await _emit_rejection(uow, record, agency, body, exc)
                return f"rejected:{exc.code}"
        return f"accepted:{made}"

    async def _seen_before(
        self, uow: UnitOfWork, record: RawRecord, body: Command, agency: str, receipt: intake_ledger.Receipt
    ) -> str:
        seen = receipt.first_read_at
        if receipt.is_redelivery_of(Position(record.topic, record.partition, record.offset)):
            return "duplicate"  # Kafka delivered it again; its outcome is already committed
        replayed = Rejected(
            "replayed",
            f"command {body.command_id!r} was already received (at {seen.topic}/{seen.partition}@{seen.offset})",
            f"Lệnh {body.command_id!r} đã được nhận trước đó: bản gửi lại bị từ chối",
        )
        await _emit_rejection(uow, record, agency, body, replayed)
        return "rejected:replayed"

    async def _reject_alone(self, record: RawRecord, agency: str | None, body: Command | None, exc: Rejected) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, self.service, self.schema, self.clock)
            await _emit_rejection(uow, record, agency, body, exc)

    async def give_up(self, record: RawRecord, error: str, attempts: int) -> None:
        """A command that keeps failing for no reason of the agency's: say so, and keep it for an operator."""
        internal = Rejected(
            "internal-error",
            f"the command could not be processed ({error}); it was kept for an operator",
            "Lỗi hệ thống khi xử lý lệnh; lệnh đã được lưu lại để xử lý",
        )
        await self._reject_alone(record, claimed_agency(record), None, internal)


async def _standing(conn: asyncpg.Connection, command: Command) -> None:
    """The agency is active and the key is a live token of it."""
    active = await conn.fetchval("SELECT active FROM agencies WHERE agency_id = $1", command.agency_id)
    if not active:
        raise Rejected(
            "unknown-agency",
            f"{command.agency_id!r} is not an active agency",
            f"Cơ quan {command.agency_id!r} không có trong danh bạ hoặc đã ngừng hoạt động",
        )
    if not await tokens.key_is_live(conn, command.agency_id, command.key_id):
        raise Rejected(
            "bad-signature",
            f"key {command.key_id!r} is not a live key of {command.agency_id}",
            "Khóa ký không thuộc cơ quan gửi lệnh hoặc đã bị thu hồi",
        )


def _rejected(refusal: Refusal) -> Rejected:
    return Rejected(refusal.code, refusal.message_en, refusal.message_vi)


async def _emit_rejection(
    uow: UnitOfWork, record: RawRecord, agency: str | None, body: Command | None, exc: Rejected
) -> None:
    rejected = IntakeRejected(
        agency_id=agency,
        command_type=body.command_type if body else None,
        command_id=body.command_id if body else None,
        code=exc.code,
        message_en=exc.message_en,
        message_vi=exc.message_vi,
        record=IntakePosition(topic=record.topic, partition=record.partition, offset=record.offset),
    )
    key = agency or "unknown"
    log.info("intake command rejected", code=exc.code, agency_id=key)
    envelope = await uow.emit(
        rejected, actor=Actor(agency_id=key), key=key, id_parts=(record.topic, record.partition, record.offset)
    )
    await copy_to_agency(uow, envelope, agency)  # the agency reads its own, on its own topic


def build(rt: Runtime) -> RawConsumer:
    processor = IntakeProcessor(rt.pool, rt.service, rt.definition.schema, rt.clock, rt.settings.token_secret)
    dead_letters = Consumer(rt.service, rt.definition.schema, {}, rt.pool, rt.dead_letters, rt.clock)

    async def give_up(record: RawRecord, error: str, attempts: int) -> None:
        await processor.give_up(record, error, attempts)
        # Kept with the service's other dead letters, so an operator can replay it once fixed.
        await dead_letters._dead_letter(
            Record(record.topic, record.partition, record.offset, record.key, record.value), error, attempts=attempts
        )

    return RawConsumer(processor.handle, give_up)
