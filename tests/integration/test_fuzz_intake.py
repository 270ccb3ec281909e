"""Fuzzing dondoc.intake (issue 12, "The proof"): thousands of generated records, published in one burst
to the real broker with both of its readers (assignment and progress) running in this process, and
every one answered exactly once — no crash, no silence, no stalled partition.

The records (hypothesis, derandomized: the same set on every run) mix what agency systems send and what
an attacker or a broken client might: valid assignment and progress commands, malformed JSON, wrong,
garbled and missing signatures, replays of the exact bytes, stale and unreadable timestamps, unknown
agencies, oversized bodies, and odd unicode (NFD, bidi controls, control characters, lone surrogates,
very long strings, deep nesting) in every field, in the key and in the headers.

An answer to a record is either an IntakeRejected on the rejections topic naming the record's position,
with a code and a reason in English and Vietnamese, or the command's acceptance in the intake ledger of
the service that ran it (services/runtime/intake_ledger.py), at that position. "internal-error" is an
answer, but the proof of a crash: it fails the test. Both consumer groups must commit past the last
record (no stall).

How many: ``DONDOC_FUZZ_INTAKE_RECORDS`` (default 10,000, the issue's figure; CI (``CI`` set) runs 1,500, about a
minute and a half on a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from events.intake import AGENCY_HEADER, KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, signing_key
from events.topics import INTAKE, INTAKE_REJECTED, TOPICS
from services import registry
from services.runtime.kafka_config import client_options
from tests.conftest import eventually, running, unique
from tests.integration.test_assignment_support import bearer, body, clock, prepared

pytestmark = pytest.mark.integration

RECORDS = int(os.environ.get("DONDOC_FUZZ_INTAKE_RECORDS", "1500" if os.environ.get("CI") else "10000"))
REJECTIONS_TOPIC = INTAKE_REJECTED
"""Where every rejection is published (all agencies'; an agency's own copy may live elsewhere too)."""
INTAKE_PARTITIONS = next(spec.partitions for spec in TOPICS if spec.name == INTAKE)
READER_GROUPS = ("dondoc.assignment.intake", "dondoc.progress.intake")
LEDGERS = ("assignment", "progress")  # the schemas whose intake_commands record an accepted command
ASSIGNER, LEAD = "ubnd-bd", "bd-sgddt"
CRASH = "internal-error"
REJECTION_MAX_BYTES = 64 * 1024
"""A rejection is a code and a reason; one this large repeats what was sent (the oversize of issue 12 item 3)."""

# --- what the records are made of -------------------------------------------------------------------

VIETNAMESE = [
    "Triển khai thanh toán học phí trực tuyến",
    "Sở Giáo dục và Đào tạo",
    "Nhiệm vụ mật: rà soát",
    "Báo cáo tiến độ quý IV",
    "Tháng 3/2023",
    "trước ngày 15/12/2022",
]
BIDI = ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u200e", "\u061c"]

nfd = st.sampled_from(VIETNAMESE).map(lambda s: unicodedata.normalize("NFD", s))
bidi = st.tuples(st.sampled_from(BIDI), st.sampled_from(VIETNAMESE)).map(lambda t: t[0] + t[1] + t[0])
controls = st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=20)
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
long_text = st.tuples(st.sampled_from(["ạ", "x", "\u0301", "😀", " "]), st.integers(2_000, 60_000)).map(
    lambda t: t[0] * t[1]
)
odd_text = st.one_of(st.text(max_size=40), nfd, bidi, controls, surrogates, long_text, st.sampled_from(VIETNAMESE))


def nested(depth: int) -> Any:
    value: Any = "đáy"
    for _ in range(depth):
        value = {"a": value}
    return value


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), odd_text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)),
    max_leaves=12,
)


@dataclass(frozen=True)
class Plan:
    """One record to send; signed when it is sent (the signature covers the send time)."""

    kind: str
    value: bytes
    key: bytes | None
    agency: str = ASSIGNER  # whose key signs it, and the agency header
    signing: str = "valid"  # valid | none | partial | garbage | other-key | tampered | stale | future | unreadable
    header_junk: bytes = b""


def encode(document: Any, how: str) -> bytes:
    if how == "escaped":  # lone surrogates as \\udXXX escapes: valid JSON, no valid string
        return json.dumps(document, ensure_ascii=True).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")  # raw: not UTF-8


@st.composite
def assign_task(draw: st.DrawFn) -> Plan:
    command_id = draw(st.one_of(st.uuids().map(lambda u: f"fz-{u.hex[:16]}"), odd_text))
    task = body(LEAD, key="x", deadline=draw(st.one_of(st.just("Tháng 3/2023"), odd_text)))
    task.pop("idempotency_key")
    for name in draw(st.sets(st.sampled_from(["title", "description", "expected_product", "code"]), max_size=2)):
        task[name] = draw(odd_text)
    if draw(st.booleans()):
        task["coordinating_agency_ids"] = draw(st.lists(odd_text, max_size=5))
    command = {"command_type": "AssignTask", "command_id": command_id, "payload": task}
    return Plan("assign", encode(command, draw(st.sampled_from(["raw", "escaped"]))), ASSIGNER.encode())


@st.composite
def progress_command(draw: st.DrawFn, task_id: str) -> Plan:
    command_type, payload = draw(
        st.sampled_from(
            [
                ("ReportProgress", {"task_id": task_id, "percent": 50}),
                ("AddNote", {"task_id": task_id, "note": "Đã họp"}),
                ("SetLeadTimes", {"task_id": task_id, "lead_days": [5, 1]}),
                ("ReportCompletion", {"task_id": task_id, "product": "Công văn 12/SGDĐT"}),
                ("ReturnCompletion", {"task_id": task_id, "reason": "Thiếu hồ sơ"}),
            ]
        )
    )
    for name in draw(st.sets(st.sampled_from([*payload, "percent", "note", "extra"]), max_size=2)):
        payload[name] = draw(st.one_of(odd_text, json_value, st.integers(-10, 200)))
    command = {"command_type": command_type, "command_id": draw(st.uuids()).hex, "payload": payload}
    return Plan("progress", encode(command, draw(st.sampled_from(["raw", "escaped"]))), LEAD.encode(), agency=LEAD)


@st.composite
def malformed(draw: st.DrawFn) -> Plan:
    value = draw(
        st.one_of(
            st.binary(max_size=64),
            st.just(b'{"command_type": "AssignTask",'),
            st.just(b"\xef\xbb\xbf{}"),
            st.just(b"[]"),
            st.just(b"null"),
            st.just(b""),
            json_value.map(lambda v: encode(v, "escaped")),
            st.integers(2, 200_000).map(lambda d: b'{"payload":' * d + b"1" + b"}" * d),
            st.integers(50, 900).map(
                lambda d: encode({"command_type": "AddNote", "command_id": "n", "payload": {"note": nested(d)}}, "raw")
            ),
        )
    )
    return Plan("malformed", value, ASSIGNER.encode())


@st.composite
def odd_envelope(draw: st.DrawFn) -> Plan:
    """Well-formed JSON whose fields are anything: unknown types, wrong types, odd ids."""
    command = {
        "command_type": draw(
            st.one_of(odd_text, st.sampled_from(["AssignTask", "ReportProgress", "WithdrawTask", "DecideExtension"]))
        ),
        "command_id": draw(st.one_of(odd_text, json_value)),
        "payload": draw(st.one_of(json_value, st.dictionaries(odd_text, json_value, max_size=5))),
    }
    return Plan("odd-envelope", encode(command, draw(st.sampled_from(["raw", "escaped"]))), ASSIGNER.encode())


@st.composite
def oversized(draw: st.DrawFn) -> Plan:
    """20-200 kB: far over any field's sense, under the broker's limit for dondoc.intake (it reaches the services)."""
    n = draw(st.integers(20_000, 200_000)) // 12  # four fields of n three-byte letters
    command = {
        "command_type": draw(st.sampled_from(["AssignTask", "AddNote", "RequestExtension"])),
        "command_id": draw(st.sampled_from(["x" * 150, "ạ" * n])),
        "payload": {"title": "ạ" * n, "note": "ạ" * n, "lead_agency_id": LEAD, "reason": "ạ" * n},
    }
    return Plan("oversized", encode(command, "raw"), ASSIGNER.encode())


@st.composite
def badly_signed(draw: st.DrawFn) -> Plan:
    plan = draw(st.one_of(assign_task(), odd_envelope()))
    signing = draw(
        st.sampled_from(
            ["none", "partial", "garbage", "other-key", "tampered", "stale", "future", "unreadable", "unknown-agency"]
        )
    )
    junk = draw(
        st.one_of(st.binary(min_size=1, max_size=40), odd_text.map(lambda t: t[:300].encode("utf-8", "surrogatepass")))
    )
    key = draw(st.one_of(st.just(plan.key), st.none(), st.binary(max_size=30)))
    return Plan(f"signature:{signing}", plan.value, key, signing=signing, header_junk=junk)


def records(task_id: str) -> st.SearchStrategy[Plan | str]:
    """The mix; the string "replay" stands for "the previous validly signed record, byte for byte"."""
    return st.one_of(
        assign_task(),
        progress_command(task_id),
        progress_command(task_id),
        malformed(),
        odd_envelope(),
        oversized(),
        badly_signed(),
        badly_signed(),
        st.just("replay"),
    )


def draw_plans(task_id: str, count: int) -> list[Plan | str]:
    drawn: list[Plan | str] = []

    @hypothesis_settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(records(task_id))
    def collect(plan: Plan | str) -> None:
        drawn.append(plan)

    collect()
    return drawn


# --- sending -----------------------------------------------------------------------------------------


@dataclass
class Sent:
    kind: str
    partition: int
    offset: int
    sample: str  # how to reproduce it: the key, the headers and the start of the value


@dataclass
class Burst:
    sent: list[Sent] = field(default_factory=list)
    refused_by_broker: Counter[str] = field(default_factory=Counter)


def headers_for(plan: Plan, secret: str, key_ids: dict[str, str], now: float) -> list[tuple[str, bytes]]:
    agency = "so-khong-co" if plan.signing == "unknown-agency" else plan.agency
    key_id = key_ids.get(plan.agency, "k")
    stamp = {"stale": now - 3600, "future": now + 3600}.get(plan.signing, now)
    timestamp = plan.header_junk.decode("utf-8", "replace") if plan.signing == "unreadable" else str(int(stamp))
    signed = plan.value + (b" " if plan.signing == "tampered" else b"")
    key = signing_key(secret, LEAD if plan.signing == "other-key" else agency, key_id)
    headers = [
        (AGENCY_HEADER, agency.encode()),
        (KEY_ID_HEADER, key_id.encode()),
        (TIMESTAMP_HEADER, timestamp.encode()),
        (SIGNATURE_HEADER, signature(key, timestamp, signed).encode()),
    ]
    if plan.signing == "none":
        return []
    if plan.signing == "partial":
        return headers[:2]
    if plan.signing == "garbage":
        return [*headers[:3], (SIGNATURE_HEADER, plan.header_junk), (AGENCY_HEADER, plan.header_junk)]
    return headers


async def publish(producer: AIOKafkaProducer, plans: list[Plan | str], secret: str, key_ids: dict[str, str]) -> Burst:
    """All records in one burst; a replay re-sends the previous validly signed record's bytes and headers."""
    now, last, pending, refused = time.time(), None, [], Counter[str]()
    for plan in plans:
        if plan == "replay":
            if last is None:
                continue
            kind, (key, value, headers) = "replay", last
        else:
            assert isinstance(plan, Plan)
            kind, key, value = plan.kind, plan.key, plan.value
            headers = headers_for(plan, secret, key_ids, now)
            if plan.signing == "valid":
                last = (key, value, headers)
        try:
            sample = f"key={key!r:.60} headers={headers!r:.400} value[:200]={value[:200]!r} ({len(value)} bytes)"
            pending.append((kind, sample, await producer.send(INTAKE, value=value, key=key, headers=headers)))
        except KafkaError as exc:  # refused by the client before it left: too large for any topic
            refused[f"{kind}: {type(exc).__name__}"] += 1
    burst = Burst(refused_by_broker=refused)
    for kind, sample, future in pending:
        try:
            metadata = await future
        except KafkaError as exc:  # too large for the topic: never on it, so nobody is to answer it
            burst.refused_by_broker[f"{kind}: {type(exc).__name__}"] += 1
            continue
        burst.sent.append(Sent(kind, metadata.partition, metadata.offset, sample))
    return burst


# --- the answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    code: str
    message_en: str
    message_vi: str
    size: int  # bytes of the whole event
    published: bool
    service: str


REJECTIONS_SQL = """
SELECT (v->'payload'->'record'->>'partition')::int AS partition, (v->'payload'->'record'->>'offset')::bigint AS at,
       coalesce(v->'payload'->>'code', '') AS code, left(coalesce(v->'payload'->>'message_en', ''), 300) AS en,
       left(coalesce(v->'payload'->>'message_vi', ''), 300) AS vi, size, published
FROM (SELECT convert_from(value, 'UTF8')::jsonb AS v, octet_length(value) AS size,
             published_at IS NOT NULL AS published
      FROM {schema}.outbox WHERE topic = $1 AND id > $2) AS o
WHERE v->'payload'->'record'->>'topic' = $3
"""


class Answers:
    """What each service answered, from its own tables: rejections from its outbox (with whether the relay
    has published them), acceptances from its intake ledger; both written in the record's transaction."""

    def __init__(self, settings: Any, burst: Burst, outbox_marks: dict[str, int]) -> None:
        self.settings, self.burst, self.marks = settings, burst, outbox_marks
        self.wanted = {(s.partition, s.offset) for s in burst.sent}

    async def collect(self) -> tuple[dict[tuple[int, int], list[Rejection]], Counter[tuple[int, int]]]:
        first = min(s.offset for s in self.burst.sent)  # offsets only grow: a cheap lower bound
        rejections: dict[tuple[int, int], list[Rejection]] = {}
        accepted: Counter[tuple[int, int]] = Counter()
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            for schema in LEDGERS:
                for r in await conn.fetch(
                    REJECTIONS_SQL.format(schema=schema), REJECTIONS_TOPIC, self.marks[schema], INTAKE
                ):
                    if (r["partition"], r["at"]) in self.wanted:
                        rejections.setdefault((r["partition"], r["at"]), []).append(
                            Rejection(r["code"], r["en"], r["vi"], r["size"], r["published"], schema)
                        )
                rows = await conn.fetch(
                    f'SELECT partition, "offset" FROM {schema}.intake_commands '
                    "WHERE topic = $1 AND outcome = 'accepted' AND \"offset\" >= $2",
                    INTAKE,
                    first,
                )
                accepted.update(p for p in ((r["partition"], r["offset"]) for r in rows) if p in self.wanted)
        finally:
            await conn.close()
        return rejections, accepted


async def outbox_marks(settings: Any) -> dict[str, int]:
    """The last outbox id of each reader before the burst: its answers come after."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return {schema: await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {schema}.outbox") for schema in LEDGERS}
    finally:
        await conn.close()


async def lagging_groups(settings: Any) -> dict[str, list[tuple[int, int]]]:
    """Reader groups not yet committed to the end of dondoc.intake: (committed, end) per partition."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    probe = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        partitions = [TopicPartition(INTAKE, p) for p in range(INTAKE_PARTITIONS)]
        ends = await probe.end_offsets(partitions)
        behind = {}
        for group in READER_GROUPS:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            offsets = [(committed[tp].offset if tp in committed else -1, ends[tp]) for tp in partitions]
            if any(at < end for at, end in offsets):
                behind[group] = offsets
        return behind
    finally:
        await probe.stop()
        await admin.close()


# --- the test ----------------------------------------------------------------------------------------


@dataclass
class Readers:
    settings: Any
    producer: AIOKafkaProducer
    key_ids: dict[str, str]
    task_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def readers(settings: Any) -> AsyncIterator[Readers]:
    producer = AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, linger_ms=20, max_request_size=1_048_576
    )
    await producer.start()
    try:
        async with (
            running(registry.definition("assignment"), settings, clock()) as assignment,
            running(registry.definition("progress"), settings, clock()) as progress,
        ):
            tokens = await prepared(settings, ASSIGNER, LEAD)
            created = await assignment.post(
                "/v1/tasks", json=body(LEAD, key=unique("fuzz")), headers=bearer(tokens[ASSIGNER])
            )
            assert created.status_code == 201, created.text
            task_id = created.json()["task_id"]

            async def known() -> bool:
                return (await progress.get(f"/v1/tasks/{task_id}")).status_code == 200

            await eventually(known, timeout=120, what="the progress service to know the task")
            yield Readers(settings, producer, {a: t.token_id for a, t in tokens.items()}, task_id)
    finally:
        await producer.stop()


async def test_every_fuzzed_intake_record_is_answered_once_without_a_crash_or_a_stall(readers: Readers) -> None:
    settings = readers.settings
    plans = await asyncio.to_thread(draw_plans, readers.task_id, RECORDS)
    marks = await outbox_marks(settings)
    burst = await publish(readers.producer, plans, settings.token_secret, readers.key_ids)
    assert burst.sent, f"nothing reached the topic: {burst.refused_by_broker}"
    answers = Answers(settings, burst, marks)

    async def caught_up() -> bool:
        if not (behind := await lagging_groups(settings)):
            return True
        rejections, accepted = await answers.collect()
        waiting = [
            s for s in burst.sent if (s.partition, s.offset) not in rejections and not accepted[(s.partition, s.offset)]
        ]
        raise AssertionError(
            f"reader groups behind the end of {INTAKE} (committed, end): {behind}; {len(waiting)} records unanswered, "
            "the first of each partition: "
            + "; ".join(
                f"{s.kind} at {(s.partition, s.offset)}: {s.sample}"
                for s in {s.partition: s for s in reversed(waiting)}.values()
            )
        )

    # Committed past the burst = every record handled, its answer committed with its offset (or a stall).
    await eventually(
        caught_up,
        timeout=120 + len(burst.sent) * 0.06,
        interval=1.0,
        what=f"both reader groups to handle {len(burst.sent)} records",
    )

    async def published() -> tuple[dict[tuple[int, int], list[Rejection]], Counter[tuple[int, int]]]:
        rejections, accepted = await answers.collect()
        waiting = sum(not r.published for rs in rejections.values() for r in rs)
        assert not waiting, f"{waiting} rejections committed but not yet published (a wedged relay?)"
        return rejections, accepted

    rejections, accepted = await eventually(published, timeout=60, interval=1.0, what="every rejection on Kafka")
    problems = []
    for sent in burst.sent:
        at = (sent.partition, sent.offset)
        rejected = rejections.get(at, [])
        if len(rejected) + accepted[at] != 1:
            problems.append(
                f"{sent.kind} at {at}: answered {len(rejected)} time(s) with a rejection "
                f"{[r.code for r in rejected]}, accepted {accepted[at]} time(s); {sent.sample}"
            )
        for r in rejected:
            if r.code == CRASH:
                problems.append(f"{sent.kind} at {at}: crashed, answered by {r.service}: {r.message_en}; {sent.sample}")
            elif not (r.code and r.message_en and r.message_vi):
                problems.append(f"{sent.kind} at {at}: a rejection without a code or a reason: {r}")
            if r.size > REJECTION_MAX_BYTES:
                problems.append(
                    f"{sent.kind} at {at}: a rejection of {r.size} bytes ({r.code}) carries the record back"
                )
    codes = Counter(r.code for rs in rejections.values() for r in rs)
    summary = (
        f"{len(burst.sent)} records, {sum(accepted.values())} accepted, rejected by code {dict(codes)}, "
        f"refused by the broker {dict(burst.refused_by_broker)}"
    )
    assert not problems, f"{len(problems)} problem(s) ({summary}):\n" + "\n".join(problems[:60])
    # The mix reaches both services' commands, or the proof proves little.
    kinds_accepted = Counter(s.kind for s in burst.sent if accepted[(s.partition, s.offset)])
    assert kinds_accepted["assign"] and kinds_accepted["progress"], summary
