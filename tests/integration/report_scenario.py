"""Events of the reporting tests: the seed directory and the 17 tasks of 131/NQ-CP, with a timeline.

Every id (agency, person, task) gets a per-test prefix, so tests sharing the session's broker and
database never see each other's figures: each asks about its own copy of the tree (the agency filter).
Events are written to Kafka with the project's codec, as their producers would write them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from events.clock import VN_TZ
from events.codec import to_record
from events.deadlines import parse_deadline
from events.directory import AgencyChanged, PersonChanged
from events.envelope import Actor, Envelope, EventPayload, deterministic_id, new_envelope
from events.progress import CompletionReported
from events.tasks import (
    DeadlineExtended,
    ProgressReported,
    SourceDocument,
    TaskAssigned,
    TaskWithdrawn,
)
from services.runtime.kafka_config import producer_options
from services.runtime.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DIRECTORY = json.loads((REPO / "services/assignment/seed/directory.json").read_text(encoding="utf-8"))
DANH_MUC = json.loads((REPO / "tests/fixtures/danh_muc_131.expected.json").read_text(encoding="utf-8"))
RESOLUTION = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")
LETTER = SourceDocument(number="6958/UBND-KSTT", issued_on=date(2022, 11, 21), issuer="UBND tỉnh Bình Định")
SO_LETTER = SourceDocument(number="2384/SGDĐT-VP", issued_on=date(2022, 11, 23), issuer="Sở GDĐT Bình Định")
SCHOOL_LETTER = SourceDocument(number="93/CV-THPTBD", issued_on=date(2022, 12, 23), issuer="Trường THPT Bình Dương")


def vn(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, 0, tzinfo=VN_TZ)


@dataclass
class Scenario:
    prefix: str
    envelopes: list[Envelope] = field(default_factory=list)

    def id(self, raw: str) -> str:
        return f"{self.prefix}-{raw}"

    def task(self, stt: int | str) -> str:
        return self.id(f"task-{stt}")

    def add(
        self, payload: EventPayload, at: datetime, *, task_id: str | None = None, actor: str = "ubnd-bd"
    ) -> Envelope:
        envelope = new_envelope(
            payload,
            event_id=deterministic_id(self.prefix, len(self.envelopes), payload.event_type),
            occurred_at=at,
            producer="test",
            actor=Actor(agency_id=self.id(actor)),
            task_id=task_id,
        )
        self.envelopes.append(envelope)
        return envelope

    # --- the directory --------------------------------------------------------------------------
    def directory(self) -> Scenario:
        for a in DIRECTORY["agencies"]:
            self.add(
                AgencyChanged(
                    agency_id=self.id(a["agency_id"]),
                    name=a["name"],
                    short_name=a["short_name"],
                    level=a["level"],
                    parent_id=self.id(a["parent_id"]) if a["parent_id"] else None,
                    version=1,
                ),
                vn(2022, 1, 1),
            )
        for p in DIRECTORY["people"]:
            self.add(
                PersonChanged(
                    person_id=self.id(p["person_id"]),
                    agency_id=self.id(p["agency_id"]),
                    full_name=p["full_name"],
                    role=p["role"],
                    title=p["title"],
                    version=1,
                ),
                vn(2022, 1, 1),
            )
        return self

    # --- the tasks ------------------------------------------------------------------------------
    def assign(
        self,
        task_id: str,
        *,
        title: str,
        lead: str,
        deadline: str,
        coordinating: tuple[str, ...] = (),
        at: datetime | None = None,
        document: SourceDocument = RESOLUTION,
        assigning: str = "ubnd-bd",
        officer: str | None = None,
        parent: str | None = None,
        key_task: bool = False,
        classification: str = "cong-khai",
        code: str | None = None,
    ) -> None:
        self.add(
            TaskAssigned(
                code=code or task_id,
                title=title,
                source_document=document,
                assigning_agency_id=self.id(assigning),
                lead_agency_id=self.id(lead),
                coordinating_agency_ids=tuple(self.id(c) for c in coordinating),
                officer_in_charge_id=self.id(officer) if officer else None,
                deadline=parse_deadline(deadline, date(2022, 11, 21)),
                key_task=key_task,
                classification=classification,  # type: ignore[arg-type]
                parent_task_id=parent,
                assigning_document=LETTER,
            ),
            at or vn(2022, 11, 21),
            task_id=task_id,
            actor=assigning,
        )

    def danh_muc(self) -> Scenario:
        """The 17 tasks of letter 6958/UBND-KSTT. Tasks 2, 4 and 8 name several leads; one task has
        one lead (DESIGN §4), so the first named leads here. Task 13 is a key task."""
        for t in DANH_MUC["tasks"]:
            stt = int(t["stt"])
            self.assign(
                self.task(stt),
                title=t["title"],
                lead=t["lead_agency_ids"][0],
                deadline=t["deadline_text"],
                coordinating=tuple(c for c in t["coordinating_agency_ids"] if c != t["lead_agency_ids"][0]),
                officer="p-vp-ubnd-bd-officer-1" if t["lead_agency_ids"][0] == "vp-ubnd-bd" else None,
                key_task=stt == 13,
                code=t["code"],
            )
        return self

    def cascade_of_13(self) -> Scenario:
        """Task 13 passed down: Sở GDĐT to its Phòng KH-TC and to Trường THPT Bình Dương, which gives it
        to its Tổ Văn phòng (seed 001, letters 2384/SGDĐT-VP and 93/CV-THPTBD)."""
        title = "Triển khai thanh toán học phí trực tuyến trên Cổng Dịch vụ công của tỉnh"
        self.assign(
            self.task("13a"),
            title=f"{title} (xây dựng quy trình)",
            lead="bd-sgddt-pkhtc",
            coordinating=("bd-sgddt-vp",),
            deadline="Tháng 3/2023",
            at=vn(2022, 11, 23),
            document=SO_LETTER,
            assigning="bd-sgddt",
            parent=self.task(13),
            officer="p-bd-sgddt-pkhtc-officer-1",
        )
        self.assign(
            self.task("13b"),
            title=title,
            lead="bd-thpt-binh-duong",
            deadline="Tháng 3/2023",
            at=vn(2022, 11, 23),
            document=SO_LETTER,
            assigning="bd-sgddt",
            parent=self.task(13),
        )
        self.assign(
            self.task("13c"),
            title=f"{title} (thu học phí qua tài khoản)",
            lead="bd-thpt-bd-to-van-phong",
            deadline="Tháng 3/2023",
            at=vn(2022, 12, 23),
            document=SCHOOL_LETTER,
            assigning="bd-thpt-binh-duong",
            parent=self.task("13b"),
        )
        return self

    def progress(self, stt: int | str, percent: int, at: datetime) -> None:
        self.add(ProgressReported(percent=percent), at, task_id=self.task(stt))

    def complete(self, stt: int | str, at: datetime, due: date) -> None:
        reported_on = at.date()
        self.add(
            CompletionReported(
                reported_on=reported_on,
                deadline_in_force=due,
                on_time=reported_on <= due,
                product="Văn bản báo cáo kết quả",
            ),
            at,
            task_id=self.task(stt),
        )

    def extend(self, stt: int | str, at: datetime, previous: date, new: date) -> None:
        self.add(
            DeadlineExtended(
                request_id=self.id(f"ext-{stt}"),
                decided_by_agency_id=self.id("ubnd-bd"),
                previous_due=previous,
                due=new,
                deadline=parse_deadline(f"ngày {new:%d/%m/%Y}", date(2022, 11, 21)),
                original_due=previous,
            ),
            at,
            task_id=self.task(stt),
        )

    def withdraw(self, stt: int | str, at: datetime) -> None:
        self.add(
            TaskWithdrawn(withdrawn_by_agency_id=self.id("ubnd-bd"), reason="Không còn phù hợp"),
            at,
            task_id=self.task(stt),
        )

    def timeline(self) -> Scenario:
        """What happens to the 17 tasks between their assignment and the autumn of 2023."""
        self.progress(1, 50, vn(2022, 11, 25))
        self.complete(1, vn(2022, 11, 28), date(2022, 11, 30))  # on time
        self.complete(5, vn(2022, 12, 20), date(2022, 12, 31))  # on time
        self.complete(6, vn(2023, 1, 5), date(2022, 12, 31))  # five days late
        self.progress(9, 30, vn(2023, 1, 10))
        self.extend(11, vn(2023, 1, 20), date(2023, 1, 31), date(2023, 3, 31))
        self.complete(3, vn(2023, 2, 15), date(2023, 1, 31))  # late
        self.withdraw(12, vn(2023, 3, 1))
        return self


# Expected figures for the prefixed UBND tỉnh subtree and document 131/NQ-CP, at the end of each day.
EXPECTED: dict[str, dict[str, int]] = {
    "2022-11-30": dict(
        assigned=16,
        completed_on_time=1,
        completed_late=0,
        unfinished_within_deadline=15,
        unfinished_overdue=0,
        no_fixed_deadline=1,
        withdrawn=0,
    ),
    "2023-01-01": dict(
        assigned=16,
        completed_on_time=2,
        completed_late=0,
        unfinished_within_deadline=12,
        unfinished_overdue=2,
        no_fixed_deadline=1,
        withdrawn=0,
    ),
    "2023-02-01": dict(
        assigned=16,
        completed_on_time=2,
        completed_late=1,
        unfinished_within_deadline=10,
        unfinished_overdue=3,
        no_fixed_deadline=1,
        withdrawn=0,
    ),
    "2023-03-31": dict(
        assigned=15,
        completed_on_time=2,
        completed_late=2,
        unfinished_within_deadline=10,
        unfinished_overdue=1,
        no_fixed_deadline=1,
        withdrawn=1,
    ),
    "2023-04-01": dict(
        assigned=15,
        completed_on_time=2,
        completed_late=2,
        unfinished_within_deadline=7,
        unfinished_overdue=4,
        no_fixed_deadline=1,
        withdrawn=1,
    ),
}


async def all_handled(database_url: str, envelopes: list[Envelope], schema: str = "reporting") -> bool:
    """Every one of these events is in the reporting service's inbox: its effects are committed."""
    conn = await asyncpg.connect(database_url)
    try:
        handled = await conn.fetchval(
            f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = ANY($1::uuid[])',
            [e.event_id for e in envelopes],
        )
    finally:
        await conn.close()
    return bool(handled == len(envelopes))


async def publish(kafka: Settings, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(**producer_options(kafka), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            record = to_record(envelope, key=_key(envelope))
            await producer.send(record.topic, value=record.value, key=record.key, headers=list(record.headers))
        await producer.flush()
    finally:
        await producer.stop()


def _key(envelope: Envelope) -> str | None:
    payload: Any = envelope.payload
    return (
        getattr(payload, "agency_id", None)
        if envelope.event_type == "AgencyChanged"
        else (getattr(payload, "person_id", None) if envelope.event_type == "PersonChanged" else None)
    )
