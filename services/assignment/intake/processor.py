"""Handling one record of ``dondoc.intake``: verify, de-duplicate, run, or refuse with a reason.

Invariants (tests/integration/test_intake.py):
* Every record ends in exactly one answer: the command's own events, or one IntakeRejected keyed by
  the submitting agency; progress commands are left to the progress service, which owns them.
* The inbox row (agency, command_id), the command's effects and its rejection commit together. The
  same command at the same Kafka position is a redelivery and changes nothing; at another position it
  is a replay and is refused. A rejection's event id comes from the record's position, so a
  redelivered bad record never yields two rejections.
* A domain refusal rolls back the command's partial effects (a savepoint), never the inbox row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from events.clock import Clock
from events.envelope import Actor
from events.intake import PROGRESS_COMMANDS, IntakePosition, IntakeRejected, signing_key
from services.assignment import tokens
from services.assignment.errors import Rejected
from services.assignment.intake import dispatch, protocol
from services.assignment.intake.protocol import Body
from services.runtime import intake_ledger
from services.runtime.consuming import Consumer, Record
from services.runtime.logs import bound, get_logger
from services.runtime.raw_consumer import RawConsumer, RawRecord
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Position, UnitOfWork

log = get_logger(__name__)


@dataclass
class IntakeProcessor:
    pool: asyncpg.Pool
    service: str
    schema: str
    clock: Clock
    secret: str
    wall_clock: Callable[[], float] = time.time  # replay windows are real time, not the domain clock

    async def handle(self, record: RawRecord) -> str:
        agency = protocol.claimed_agency(record)
        try:
            sig, body = self._authentic(record)
            if body.command_type in PROGRESS_COMMANDS:
                # Its agency and key are the progress service's to judge from here (it knows revocations
                # and abolished agencies too): one answer per command, never two, never none.
                return "left-for-progress"
            await self._standing(sig)
        except Rejected as exc:
            await self._reject_alone(record, agency, None, exc)
            return f"rejected:{exc.code}"
        with bound(command_type=body.command_type, command_id=body.command_id, agency_id=agency):
            return await self._run(record, body, agency or "")

    def _authentic(self, record: RawRecord) -> tuple[protocol.Signed, Body]:
        """Signed with the key the headers name, fresh, well formed: judged without the database."""
        sig = protocol.signed(record)
        protocol.check_signature(signing_key(self.secret, sig.agency_id, sig.key_id), sig, record.value or b"")
        protocol.check_timestamp(sig, self.wall_clock())
        return sig, protocol.body(record.value or b"")

    async def _standing(self, sig: protocol.Signed) -> None:
        """The agency is active and the key is a live token of it."""
        async with self.pool.acquire() as conn:
            active = await conn.fetchval("SELECT active FROM agencies WHERE agency_id = $1", sig.agency_id)
            if not active:
                raise Rejected("unknown-agency", f"{sig.agency_id!r} is not an active agency",
                               f"Cơ quan {sig.agency_id!r} không có trong danh bạ hoặc đã ngừng hoạt động")
            live = await tokens.key_is_live(conn, sig.agency_id, sig.key_id)
        if not live:
            raise Rejected("bad-signature", f"key {sig.key_id!r} is not a live key of {sig.agency_id}",
                           "Khóa ký không thuộc cơ quan gửi lệnh hoặc đã bị thu hồi")

    async def _run(self, record: RawRecord, body: Body, agency: str) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, self.service, self.schema, self.clock)
            here = Position(record.topic, record.partition, record.offset)
            receipt = await intake_ledger.receive(
                conn, agency_id=agency, command_id=body.command_id, command_type=body.command_type,
                at=here, received_at=self.clock.now(),
            )
            if not receipt.first:
                return await self._seen_before(uow, record, body, agency, receipt)
            try:
                async with conn.transaction():  # a savepoint: a refusal undoes the command's effects only
                    made = await dispatch.run(body, agency, uow)
            except Rejected as exc:
                await intake_ledger.mark_rejected(conn, agency_id=agency, command_id=body.command_id,
                                                  code=exc.code)
                await _emit_rejection(uow, record, agency, body, exc)
                return f"rejected:{exc.code}"
        return f"accepted:{made}"

    async def _seen_before(self, uow: UnitOfWork, record: RawRecord, body: Body, agency: str,
                           receipt: intake_ledger.Receipt) -> str:
        seen = receipt.first_read_at
        if receipt.is_redelivery_of(Position(record.topic, record.partition, record.offset)):
            return "duplicate"  # Kafka delivered it again; its outcome is already committed
        replayed = Rejected("replayed", f"command {body.command_id!r} was already received "
                            f"(at {seen.topic}/{seen.partition}@{seen.offset})",
                            f"Lệnh {body.command_id!r} đã được nhận trước đó: bản gửi lại bị từ chối")
        await _emit_rejection(uow, record, agency, body, replayed)
        return "rejected:replayed"

    async def _reject_alone(self, record: RawRecord, agency: str | None, body: Body | None,
                            exc: Rejected) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, self.service, self.schema, self.clock)
            await _emit_rejection(uow, record, agency, body, exc)

    async def give_up(self, record: RawRecord, error: str, attempts: int) -> None:
        """A command that keeps failing for no reason of the agency's: say so, and keep it for an operator."""
        internal = Rejected("internal-error", f"the command could not be processed ({error}); it was kept "
                            "for an operator", "Lỗi hệ thống khi xử lý lệnh; lệnh đã được lưu lại để xử lý")
        await self._reject_alone(record, protocol.claimed_agency(record), None, internal)


async def _emit_rejection(uow: UnitOfWork, record: RawRecord, agency: str | None, body: Body | None,
                          exc: Rejected) -> None:
    rejected = IntakeRejected(
        agency_id=agency, command_type=body.command_type if body else None,
        command_id=body.command_id if body else None, code=exc.code, message_en=exc.message_en,
        message_vi=exc.message_vi,
        record=IntakePosition(topic=record.topic, partition=record.partition, offset=record.offset),
    )
    key = agency or "unknown"
    log.info("intake command rejected", code=exc.code, agency_id=key)
    await uow.emit(rejected, actor=Actor(agency_id=key), key=key,
                   id_parts=(record.topic, record.partition, record.offset))


def build(rt: Runtime) -> RawConsumer:
    processor = IntakeProcessor(rt.pool, rt.service, rt.definition.schema, rt.clock, rt.settings.token_secret)
    dead_letters = Consumer(rt.service, rt.definition.schema, {}, rt.pool, rt.producer, rt.clock)

    async def give_up(record: RawRecord, error: str, attempts: int) -> None:
        await processor.give_up(record, error, attempts)
        # Kept with the service's other dead letters, so an operator can replay it once fixed.
        await dead_letters._dead_letter(Record(record.topic, record.partition, record.offset, record.key,
                                               record.value), error, attempts=attempts)

    return RawConsumer(processor.handle, give_up)
