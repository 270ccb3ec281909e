"""Replay (DESIGN §5): rebuild a projection from the Kafka log in a shadow schema, compare it with the
live one, and on request put it in place.

Invariants (tests/integration/test_replay.py breaks them on purpose):
* The live service is untouched by a replay: the log is read with no consumer group (partitions
  assigned, read from their first offset up to the end offsets taken when the replay starts), and every
  write goes to the shadow schema ``<schema>_replay``, dropped and migrated afresh each run. Nothing
  leaves it: the Consumer's dead-letter producer is a stand-in (the dead letter stays a row of the
  shadow's ``dead_letters``), the shadow's outbox is never relayed, no timer fires, nothing is delivered.
* The service's own migrations and handlers build the shadow, through the runtime's Consumer (inbox
  claim and handler in one transaction), so the rebuilt state is what the service would hold.
* Partitions are merged by record timestamp (each partition in its own order), the order the live
  service read them in as near as it can be known; a projection must not depend on it anyway.
* Comparing is table by table with ``EXCEPT ALL`` both ways, in one snapshot of the live schema, over
  every table the service's migrations create except the runtime's (outbox, inbox, timers, …) and those
  its policy keeps (not derived from its input topics); columns a policy names as order- or wall-clock
  bookkeeping are left out.
* Apply only replaces the live tables when the service is down (its /readyz does not answer and its
  consumer group has no member), in one transaction with a copy of the old rows in a backup schema; the
  inbox is replaced with the shadow's (it records which events the tables hold) and the group's offsets
  are set to the replay's end offsets before that transaction commits, so the restarted service goes
  on exactly after what the tables contain.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError
from aiokafka.structs import OffsetAndMetadata

from events.topics import is_compacted
from services.runtime import db
from services.runtime.consuming import Consumer, Record
from services.runtime.logs import get_logger
from services.runtime.service import ServiceDefinition, default_clock
from services.runtime.settings import Settings

log = get_logger(__name__)

Position = tuple[str, int]  # (topic, partition)
Progress = Callable[[int, int], None]  # (records replayed, total)


class ReplayRefused(Exception):
    """The replay (or its apply) is refused; the message says why and what to do instead."""


# --- what each service allows ------------------------------------------------------------------------


@dataclass(frozen=True)
class TablePolicy:
    ignore: tuple[str, ...] = ()  # columns left out of the comparison, with the reason in ``why``
    rows: str = ""  # SQL predicate on both sides: rows that mean something (e.g. not all-zero counters)
    live_rows: str = ""  # SQL predicate on the live side only; {shadow} and the temp table replay_snapshot
    why: str = ""


@dataclass(frozen=True)
class ReplayPolicy:
    tables: Mapping[str, TablePolicy] = field(default_factory=dict)
    kept: tuple[str, ...] = ()  # the service's own tables that its input topics cannot rebuild
    apply_refusal: str = ""  # non-empty: --apply is refused with this message
    prepare: Callable[[asyncpg.Connection, str], Awaitable[None]] | None = None  # (shadow conn, live schema)
    note: str = ""


async def _roll_live_like_the_service(shadow: asyncpg.Connection, live_schema: str) -> None:
    """``live`` is the journal summed up to ``live_day``, which the service moves with the clock: the
    shadow's is moved to the live one's day, so both answer the same 'today'."""
    day = await shadow.fetchval(f'SELECT day FROM "{live_schema}".live_day')
    if day is not None:
        await shadow.execute("SELECT live_roll($1)", day)


_COUNTERS = (
    "new_within",
    "started_within",
    "overdue_1_30",
    "overdue_31_90",
    "overdue_91_120",
    "overdue_over_120",
    "on_time",
    "late",
    "nodl_open",
    "nodl_done",
    "withdrawn",
)
_NOT_ALL_ZERO = TablePolicy(
    rows=" OR ".join(f"{c} <> 0" for c in _COUNTERS),
    why="a counter row that went back to zero counts nothing; whether it exists depends on the order "
    "directory and task events were read in",
)

POLICIES: dict[str, ReplayPolicy] = {
    "reporting": ReplayPolicy(
        tables={"journal": _NOT_ALL_ZERO, "live": _NOT_ALL_ZERO},
        kept=("published_reports",),
        prepare=_roll_live_like_the_service,
        note="published_reports (the monthly reports this service itself published) is not in its input "
        "topics: not compared, kept as it is. Every time column comes from the events, none from the "
        "wall clock, so all other columns are compared.",
    ),
    "audit": ReplayPolicy(
        tables={
            "events": TablePolicy(
                ignore=("seq", "prev_hash", "hash", "recorded_at"),
                live_rows="""EXISTS (SELECT 1 FROM replay_snapshot s
                    WHERE s.topic = t.topic AND s.partition = t.partition
                      AND t."offset" >= s.start_offset AND t."offset" < s.end_offset
                      AND (NOT s.compacted OR EXISTS (
                          SELECT 1 FROM "{shadow}".events r
                          WHERE (r.topic, r.partition, r."offset") = (t.topic, t.partition, t."offset"))))""",
                why="the chain (seq, hashes) orders events of different partitions and topics as they were "
                "read, so a rebuilt chain cannot match it; recorded_at is the wall clock",
            )
        },
        kept=("chain_head",),
        apply_refusal="The audit log is append-only evidence. Its hash chain follows the order in which events "
        "of different partitions and topics were consumed, which no replay can reproduce, so a "
        "rebuilt chain would not be the one inspectors verified, and replacing it would be "
        "rewriting the record. Check the live chain with `dondoc audit verify`; the comparison "
        "above tells whether it holds every event of the log, by content and position.",
        note="Compared per event (id, type, task, correlation, time, topic, partition, offset and exact bytes), "
        "not by chain order; live events outside the log read (after its end offsets, or compacted away) "
        "are left out.",
    ),
}

REFUSALS: dict[str, str] = {
    "assignment": "assignment is a source of truth, not a projection: its tasks and directory come from "
    "commands (HTTP and dondoc.intake) and it consumes no event topic, so there is no log to "
    "rebuild it from. Restore its schema from a database backup instead.",
    "progress": "progress is a source of truth, not a projection: task status comes from commands (HTTP and "
    "dondoc.intake), its handlers stamp the wall clock and its own deadline timers fire on it; a "
    "replay would re-arm those timers on today's clock instead of rebuilding what was. Restore its "
    "schema from a database backup instead.",
    "alerts": "alerts is a source of truth, not a projection: alerts are raised by its own timers on the "
    "clock, acknowledged over HTTP and delivered to people (email, webhook); none of that is in its "
    "input topics, and a replay would raise alerts again on today's clock. Restore its schema from "
    "a database backup instead (what it published is kept on dondoc.alert-events and in audit).",
}


def policy_of(service: str) -> ReplayPolicy:
    if service in REFUSALS:
        raise ReplayRefused(REFUSALS[service])
    if service not in POLICIES:
        raise ReplayRefused(
            f"{service} has no replay policy; the services that can be replayed are: {', '.join(POLICIES)}"
        )
    return POLICIES[service]


# --- reading the log --------------------------------------------------------------------------------


class LogReader:
    """Every record of some topics from their first offset up to the end offsets taken at start, with no
    consumer group; the partitions merged by timestamp, each in its own order, in bounded memory."""

    def __init__(self, bootstrap: str, topics: Sequence[str], *, client_id: str, buffer: int = 2000) -> None:
        self._bootstrap, self._topics, self._buffer = bootstrap, list(topics), buffer
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=client_id,
        )
        self.starts: dict[TopicPartition, int] = {}
        self.ends: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> LogReader:
        partitions = await _partitions(self._bootstrap, self._topics)
        await self._consumer.start()
        try:
            self._consumer.assign(partitions)
            self.starts = await self._consumer.beginning_offsets(partitions)
            self.ends = await self._consumer.end_offsets(partitions)
            await self._consumer.seek_to_beginning(*partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    @property
    def total(self) -> int:
        return sum(self.ends[tp] - self.starts[tp] for tp in self.ends)

    async def batches(self, size: int) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
        buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {tp: deque() for tp in self.ends}
        exhausted = {tp for tp in self.ends if self.starts[tp] >= self.ends[tp]}
        while True:
            batch: list[ConsumerRecord[bytes, bytes]] = []
            # A head can go out once every partition that may still bring records has one buffered.
            while len(batch) < size and all(buffers[tp] or tp in exhausted for tp in buffers):
                heads = [(q[0].timestamp, tp.topic, tp.partition, tp) for tp, q in buffers.items() if q]
                if not heads:
                    break
                batch.append(buffers[min(heads)[3]].popleft())
            if batch:
                yield batch
                continue
            if len(exhausted) == len(buffers) and not any(buffers.values()):
                return
            await self._fetch(buffers, exhausted)

    async def _fetch(
        self, buffers: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]], exhausted: set[TopicPartition]
    ) -> None:
        full = {tp for tp, q in buffers.items() if tp in exhausted or len(q) >= self._buffer}
        self._consumer.pause(*full)
        self._consumer.resume(*(set(buffers) - full))
        fetched = await self._consumer.getmany(timeout_ms=200, max_records=self._buffer)
        for tp, records in fetched.items():
            buffers[tp].extend(r for r in records if r.offset < self.ends[tp])
        for tp in set(buffers) - exhausted:
            if await self._consumer.position(tp) >= self.ends[tp]:
                exhausted.add(tp)


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    found = {t["topic"]: t for t in described if t["error_code"] == 0 and t["partitions"]}
    missing = [t for t in topics if t not in found]
    if missing:
        raise ReplayRefused(
            f"topic(s) {', '.join(missing)} do not exist on {bootstrap}; `dondoc infra up` creates them"
        )
    return sorted(TopicPartition(t, p["partition"]) for t in topics for p in found[t]["partitions"])


# --- rebuilding ---------------------------------------------------------------------------------------


class _HeldDeadLetters:
    """Stands in for the Kafka producer of the replay's Consumer: its dead letters are not published (the
    Consumer still writes their row to the shadow's dead_letters), only counted."""

    def __init__(self) -> None:
        self.held = 0

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: object = None
    ) -> asyncio.Future[None]:
        self.held += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass(frozen=True)
class Rebuilt:
    service: str
    live_schema: str
    shadow_schema: str
    topics: tuple[str, ...]
    starts: dict[Position, int]
    ends: dict[Position, int]
    records: int
    handled: int
    dead_lettered: int
    seconds: float
    runtime_tables: tuple[str, ...]
    policy: ReplayPolicy

    @property
    def group(self) -> str:
        return f"dondoc.{self.service}"


def shadow_schema_of(definition: ServiceDefinition) -> str:
    return f"{definition.schema}_replay"


async def rebuild(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    on_progress: Progress | None = None,
    policy: ReplayPolicy | None = None,
) -> Rebuilt:
    """Replay the service's input topics into its shadow schema, made afresh."""
    policy = policy or policy_of(definition.name)
    shadow = shadow_schema_of(definition)
    started = time.perf_counter()
    guard = await asyncpg.connect(settings.database_url)
    try:
        if not await guard.fetchval("SELECT pg_try_advisory_lock($1)", db.lock_key("replay", definition.name)):
            raise ReplayRefused(f"another replay of {definition.name} is running (it holds the replay lock)")
        await guard.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
        pool = await _shadow_pool(settings.database_url, shadow, definition.consumer_concurrency + 2)
        try:
            await db.migrate(pool, shadow, {"runtime": db.RUNTIME_MIGRATIONS})
            runtime_tables = (*await _tables(guard, shadow), "schema_migrations")
            await db.migrate(pool, shadow, {definition.name: definition.migrations})
            log.info("replay started", service=definition.name, shadow=shadow, topics=list(definition.topics))
            records, ends, starts = await _feed(definition, settings, pool, shadow, on_progress)
            async with pool.acquire() as conn:
                if policy.prepare is not None:
                    async with conn.transaction():
                        await policy.prepare(conn, definition.schema)
                handled = await conn.fetchval("SELECT count(*) FROM inbox")
                dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
        finally:
            await pool.close()
    finally:
        await guard.close()  # also releases the replay lock
    result = Rebuilt(
        definition.name,
        definition.schema,
        shadow,
        tuple(definition.topics),
        starts,
        ends,
        records,
        handled,
        dead,
        time.perf_counter() - started,
        tuple(sorted(set(runtime_tables))),
        policy,
    )
    log.info(
        "replay finished",
        service=definition.name,
        records=records,
        handled=handled,
        dead_lettered=dead,
        seconds=round(result.seconds, 2),
    )
    return result


async def _shadow_pool(url: str, shadow: str, size: int) -> asyncpg.Pool:
    """Like db.create_pool (the search_path makes the service's SQL land in the shadow), but commits do not
    wait for the disk: a replay that stops halfway is started afresh anyway (--apply copies the rows into
    the live tables in a durable transaction of its own)."""
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=size,
        server_settings={
            "search_path": f"{shadow},public",
            "application_name": f"dondoc-replay-{shadow}",
            "synchronous_commit": "off",
        },
    )
    assert pool is not None
    return pool


async def _feed(
    definition: ServiceDefinition, settings: Settings, pool: asyncpg.Pool, shadow: str, on_progress: Progress | None
) -> tuple[int, dict[Position, int], dict[Position, int]]:
    consumer = Consumer(
        definition.name,
        shadow,
        definition.handlers,
        pool,
        cast(AIOKafkaProducer, _HeldDeadLetters()),
        default_clock(settings),
        attempts=settings.handler_attempts,
        backoff_s=settings.handler_retry_backoff_s,
        concurrency=definition.consumer_concurrency,
    )
    records = 0
    async with LogReader(
        settings.kafka_bootstrap, definition.topics, client_id=f"dondoc-replay-{definition.name}"
    ) as reader:
        total = reader.total
        if on_progress:
            on_progress(0, total)
        async for batch in reader.batches(settings.consumer_batch_size):
            await consumer.handle_batch([Record(r.topic, r.partition, r.offset, r.key, r.value) for r in batch])
            records += len(batch)
            if on_progress:
                on_progress(records, total)
        if on_progress:
            on_progress(total, total)  # a compacted topic has holes: its records are fewer than its offsets
        ends = {(tp.topic, tp.partition): o for tp, o in reader.ends.items()}
        starts = {(tp.topic, tp.partition): o for tp, o in reader.starts.items()}
    return records, ends, starts


async def _tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' "
        "ORDER BY table_name",
        schema,
    )
    return [r["table_name"] for r in rows]


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, data type) of the columns one can write, in order."""
    rows = await conn.fetch(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position""",
        schema,
        table,
    )
    return [(r["column_name"], r["data_type"]) for r in rows]


def projection_tables(all_tables: Sequence[str], rebuilt: Rebuilt, policy: ReplayPolicy) -> list[str]:
    return [t for t in all_tables if t not in rebuilt.runtime_tables and t not in policy.kept]


# --- comparing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableComparison:
    table: str
    live_rows: int | None  # None: the live schema has no such table
    rebuilt_rows: int
    missing: int  # rows the rebuilt table has and the live one lacks
    extra: int  # rows the live table has and the rebuilt one does not
    ignored: tuple[str, ...] = ()
    problem: str = ""  # the tables cannot be compared row by row (structure differs)
    samples: list[tuple[str, str]] = field(default_factory=list)  # ("missing" | "extra", row as JSON)

    @property
    def identical(self) -> bool:
        return not self.problem and self.live_rows is not None and self.missing == 0 and self.extra == 0


@dataclass(frozen=True)
class Comparison:
    tables: list[TableComparison]
    live_only_events: int  # handled by the live service, not by the replay (read after its end, or lost)
    unhandled_by_live: int  # handled by the replay, not (yet) by the live service
    note: str

    @property
    def identical(self) -> bool:
        return all(t.identical for t in self.tables)


_NOT_COMPARABLE = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}


async def compare(rebuilt: Rebuilt, settings: Settings, *, samples: int = 3) -> Comparison:
    """The live schema against the shadow, table by table, in one snapshot of both."""
    policy = rebuilt.policy
    live, shadow = rebuilt.live_schema, rebuilt.shadow_schema
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE replay_snapshot (topic text, partition int, start_offset bigint, "
            "end_offset bigint, compacted boolean)"
        )
        await conn.executemany(
            "INSERT INTO replay_snapshot VALUES ($1, $2, $3, $4, $5)",
            [(t, p, rebuilt.starts[(t, p)], end, is_compacted(t)) for (t, p), end in rebuilt.ends.items()],
        )
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            live_tables = set(await _tables(conn, live))
            results = [
                await _compare_table(
                    conn, live, shadow, table, policy.tables.get(table, TablePolicy()), table in live_tables, samples
                )
                for table in projection_tables(await _tables(conn, shadow), rebuilt, policy)
            ]
            live_only = unhandled = 0
            if "inbox" in live_tables:
                live_only = await conn.fetchval(
                    f'SELECT count(*) FROM "{live}".inbox l WHERE NOT EXISTS '
                    f'(SELECT 1 FROM "{shadow}".inbox r WHERE r.event_id = l.event_id)'
                )
                unhandled = await conn.fetchval(
                    f'SELECT count(*) FROM "{shadow}".inbox r WHERE NOT EXISTS '
                    f'(SELECT 1 FROM "{live}".inbox l WHERE l.event_id = r.event_id)'
                )
    finally:
        await conn.close()
    return Comparison(results, live_only, unhandled, policy.note)


async def _compare_table(
    conn: asyncpg.Connection, live: str, shadow: str, table: str, policy: TablePolicy, in_live: bool, samples: int
) -> TableComparison:
    shadow_columns = [c for c in await _columns(conn, shadow, table) if c[0] not in policy.ignore]
    rows = f"WHERE ({policy.rows})" if policy.rows else ""
    rebuilt_rows = await conn.fetchval(f'SELECT count(*) FROM "{shadow}"."{table}" t {rows}')
    if not in_live:
        return TableComparison(
            table, None, rebuilt_rows, rebuilt_rows, 0, policy.ignore, problem="the live schema has no such table"
        )
    live_where = " AND ".join(f"({p})" for p in (policy.rows, policy.live_rows.format(shadow=shadow)) if p)
    live_filter = f"WHERE {live_where}" if live_where else ""
    live_rows = await conn.fetchval(f'SELECT count(*) FROM "{live}"."{table}" t {live_filter}')
    live_columns = [c for c in await _columns(conn, live, table) if c[0] not in policy.ignore]
    if sorted(live_columns) != sorted(shadow_columns):
        return TableComparison(
            table,
            live_rows,
            rebuilt_rows,
            0,
            0,
            policy.ignore,
            problem="its columns differ from the rebuilt table's (migrations differ)",
        )
    select = ", ".join(f'"{c}"::text' if kind in _NOT_COMPARABLE else f'"{c}"' for c, kind in shadow_columns)
    rebuilt_q = f'SELECT {select} FROM "{shadow}"."{table}" t {rows}'
    live_q = f'SELECT {select} FROM "{live}"."{table}" t {live_filter}'
    missing_q, extra_q = f"{rebuilt_q} EXCEPT ALL {live_q}", f"{live_q} EXCEPT ALL {rebuilt_q}"
    missing = await conn.fetchval(f"SELECT count(*) FROM ({missing_q}) d")
    extra = await conn.fetchval(f"SELECT count(*) FROM ({extra_q}) d")
    shown: list[tuple[str, str]] = []
    for kind, query, count in (("missing", missing_q, missing), ("extra", extra_q, extra)):
        if count and samples:
            rows_q = f"SELECT row_to_json(d)::text FROM ({query}) d LIMIT {samples}"
            shown += [(kind, r[0]) for r in await conn.fetch(rows_q)]
    return TableComparison(table, live_rows, rebuilt_rows, missing, extra, policy.ignore, samples=shown)


# --- applying -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    backup_schema: str
    tables: list[str]
    offsets: dict[Position, int]  # the group's committed offsets now: the replay's end offsets
    previous_offsets: dict[Position, int]  # before (also kept in the backup schema, table group_offsets)
    dead_letters_copied: int


async def running_signs(definition: ServiceDefinition, settings: Settings, service_url: str | None = None) -> list[str]:
    """What shows the service is running: its /readyz answering, members in its consumer group."""
    signs: list[str] = []
    url = service_url or (settings.url_of(definition.name) if settings.port_of(definition.name) else None)
    if url:
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                answer = await client.get(f"{url}/readyz")
            signs.append(f"{url}/readyz answered {answer.status_code}")
        except httpx.HTTPError:
            pass
    members = await group_members(settings.kafka_bootstrap, f"dondoc.{definition.name}")
    if members:
        signs.append(f"consumer group dondoc.{definition.name} has {len(members)} member(s): {', '.join(members)}")
    return signs


async def group_members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # Each described group: (error_code, group, state, protocol_type, protocol, members, …); a member:
    # (member_id, client_id, client_host, …).
    return [f"{m[1]}@{m[2]}" for response in responses for g in response.groups if g[1] == group for m in g[5]]


async def apply(
    rebuilt: Rebuilt,
    definition: ServiceDefinition,
    settings: Settings,
    *,
    service_url: str | None = None,
    now: datetime | None = None,
) -> Applied:
    """Replace the live projection tables (and inbox) by the shadow's and move the group to the end offsets."""
    policy = rebuilt.policy
    if policy.apply_refusal:
        raise ReplayRefused(policy.apply_refusal)
    signs = await running_signs(definition, settings, service_url)
    if signs:
        raise ReplayRefused(
            f"{rebuilt.service} is running ({'; '.join(signs)}). Stop every instance of it, "
            "then run the replay with --apply again."
        )
    live, shadow = rebuilt.live_schema, rebuilt.shadow_schema
    backup = f"{live}_backup_{(now or datetime.now(UTC)):%Y%m%d_%H%M%S}"
    previous = await group_offsets(settings.kafka_bootstrap, rebuilt.group)
    conn = await asyncpg.connect(settings.database_url)
    try:
        # No other replay of the service may replace the shadow meanwhile.
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", db.lock_key("replay", rebuilt.service)):
            raise ReplayRefused(f"another replay of {rebuilt.service} is running (it holds the replay lock)")
        async with conn.transaction():
            await _same_migrations(conn, live, shadow)
            tables = [*projection_tables(await _tables(conn, shadow), rebuilt, policy), "inbox"]
            qualified = ", ".join(f'"{live}"."{t}"' for t in tables)
            # Waits for (then holds off) anyone still reading or writing these tables.
            await conn.execute(f"LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE")
            await conn.execute(f'CREATE SCHEMA "{backup}"')
            for t in tables:
                await conn.execute(f'CREATE TABLE "{backup}"."{t}" AS TABLE "{live}"."{t}"')
            await conn.execute(
                f'CREATE TABLE "{backup}".group_offsets (topic text, partition int, committed_offset bigint)'
            )
            await conn.executemany(
                f'INSERT INTO "{backup}".group_offsets VALUES ($1, $2, $3)',
                [(t, p, o) for (t, p), o in sorted(previous.items())],
            )
            await conn.execute(f"TRUNCATE {qualified}")
            for t in tables:
                columns = ", ".join(f'"{c}"' for c, _ in await _columns(conn, live, t))
                await conn.execute(
                    f'INSERT INTO "{live}"."{t}" ({columns}) OVERRIDING SYSTEM VALUE '
                    f'SELECT {columns} FROM "{shadow}"."{t}"'
                )
                await _catch_up_sequences(conn, live, t)
            copied = await conn.fetchval(
                f"""WITH copied AS (
                        INSERT INTO "{live}".dead_letters (topic, partition, "offset", key, value, error, attempts)
                        SELECT topic, partition, "offset", key, value, error, attempts FROM "{shadow}".dead_letters
                        ON CONFLICT DO NOTHING RETURNING 1)
                    SELECT count(*) FROM copied"""
            )
            # Inside the transaction: if the offsets cannot be set (the group came alive), nothing changes.
            try:
                await _set_group_offsets(settings.kafka_bootstrap, rebuilt.group, rebuilt.ends)
            except CommitFailedError as exc:
                raise ReplayRefused(
                    f"the consumer group {rebuilt.group} got a member while applying (the service "
                    "started?); nothing was changed. Stop it and run the replay with --apply "
                    "again."
                ) from exc
        await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')  # its rows are live now
    finally:
        await conn.close()
    log.info("replay applied", service=rebuilt.service, backup_schema=backup, tables=tables, dead_letters_copied=copied)
    return Applied(backup, tables, dict(rebuilt.ends), previous, copied)


async def _same_migrations(conn: asyncpg.Connection, live: str, shadow: str) -> None:
    for schema in (live, shadow):
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".schema_migrations'):
            raise ReplayRefused(f"schema {schema} does not exist (or was never migrated): nothing to apply to or from")
    query = 'SELECT component, version FROM "{}".schema_migrations ORDER BY 1, 2'
    live_done = [tuple(r) for r in await conn.fetch(query.format(live))]
    shadow_done = [tuple(r) for r in await conn.fetch(query.format(shadow))]
    if live_done != shadow_done:
        raise ReplayRefused(
            f"the live schema {live} is not migrated like the rebuilt one (live: {live_done}, "
            f"rebuilt: {shadow_done}); start the service once with this version so it migrates, "
            "stop it, and replay again"
        )


async def _catch_up_sequences(conn: asyncpg.Connection, schema: str, table: str) -> None:
    """Rows copied with their ids leave a serial's sequence behind: move it past the highest id."""
    for column, _ in await _columns(conn, schema, table):
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", f'"{schema}"."{table}"', column)
        if sequence:
            await conn.execute(
                f'SELECT setval($1, coalesce((SELECT max("{column}") FROM "{schema}"."{table}"), 0) + 1, false)',
                sequence,
            )


async def group_offsets(bootstrap: str, group: str) -> dict[Position, int]:
    """The group's committed offsets (the next offset it reads), per (topic, partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def _set_group_offsets(bootstrap: str, group: str, offsets: Mapping[Position, int]) -> None:
    """Commit offsets for a group without joining it; the broker refuses while the group has members."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, client_id="dondoc-replay-apply"
    )
    await consumer.start()
    try:
        partitions = {TopicPartition(t, p): OffsetAndMetadata(o, "dondoc replay") for (t, p), o in offsets.items()}
        consumer.assign(list(partitions))
        await consumer.commit(partitions)
    finally:
        await consumer.stop()
