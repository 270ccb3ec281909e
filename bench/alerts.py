"""``dondoc bench alerts``: how fast does the person responsible hear about a deadline?

It starts everything it needs on its own (Kafka and PostgreSQL in a fresh ``DONDOC_HOME`` on free
ports, the progress and alerts services as real processes), loads ``tasks`` open tasks (with their
timers and alerts), opens ``streams`` SSE streams, then measures two paths end to end:

* assigned → stream: a TaskAssigned published to Kafka (as the assignment service does) until the
  officer's stream shows the alert; paced, one at a time per 50 ms;
* deadline → stream: one task per stream due the same day; the progress service is restarted with its
  domain clock seconds before midnight (its timers are durable rows), and each overdue alert's arrival
  on its stream is compared with the instant the deadline passed on the progress clock.

The bench process only publishes and listens; the services do the work in their own processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from deploy.credentials import as_principal
from events.clock import VN_TZ
from events.codec import to_record
from events.deadlines import parse_deadline_or_date
from events.envelope import Actor, new_envelope
from events.kafka_access import service_principal
from events.tasks import SourceDocument, TaskAssigned
from services.alerts.inapp import NOTIFY_CHANNEL
from services.runtime import auth
from services.runtime.kafka_config import producer_options
from services.runtime.settings import Settings

DAY_X = date(2030, 3, 4)  # a Monday far from any real data: the domain day the bench lives on
# The progress service restarts this long before midnight on its clock: enough to be up and polling.
RESTART_MARGIN_S = 20
LEAD = "so-bench"
DOC = SourceDocument(number="BENCH/NQ-CP", issued_on=date(2030, 1, 2), issuer="Chính phủ")


@dataclass
class Result:
    name: str
    latencies_ms: list[float]
    expected: int
    target_ms: float

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(q * (len(data) - 1)))] if data else float("nan")


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    from deploy._proc import free_port

    return free_port()


@contextmanager
def isolated_infra(home: Path | None) -> Iterator[tuple[str, str, Path]]:
    """Kafka and PostgreSQL of the bench's own, so it never touches (nor is skewed by) a running stack; in
    a temporary home, removed afterwards, unless one is given. The installation has its own secrets, as
    `dondoc up` makes them; its services inherit them."""
    from deploy import isolated, stack

    own = home is None
    home = home or Path(tempfile.mkdtemp(prefix="dondoc-bench-"))
    try:
        with isolated.isolated_infra(
            home, lambda: {"DONDOC_TOKEN_SECRET": stack.token_secret(), "DONDOC_AUDIT_KEY": stack.audit_key()}
        ) as endpoints:
            yield endpoints.kafka_bootstrap, endpoints.database_url, home
    finally:
        if own:
            shutil.rmtree(home, ignore_errors=True)


class Service:
    """One service as a child process, with its log in the bench home."""

    def __init__(self, name: str, env: dict[str, str], home: Path, replica: int = 0) -> None:
        self.name, self.home, self.log_name = name, home, f"{name}-{replica}.log"
        self.port = _free_port()
        self.env = {**env, f"DONDOC_{name.upper()}_PORT": str(self.port)}
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        log = (self.home / self.log_name).open("ab")
        # Popen only forks and returns; readiness is then polled over HTTP without blocking the loop.
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "services.cli.main", "service", self.name],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        async with httpx.AsyncClient(timeout=2.0) as client:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.home / self.log_name}")
                with suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after 60 s")

    def stop(self) -> None:
        from deploy._proc import stop_gently

        if self.proc is not None:
            stop_gently(self.proc)


class Streams:
    """``n`` open SSE streams; records when each (task, kind) first arrives on it (epoch seconds)."""

    def __init__(self, urls: list[str], people: list[str], token: Callable[[], str]) -> None:
        self.urls, self.people = urls, people
        # One token per stream: a token holds only a few open streams (max_streams_per_token), as a
        # browser would hold one.
        self.headers = {p: {"Authorization": f"Bearer {token()}"} for p in people}
        self.seen: dict[tuple[str, str], float] = {}
        self.opened = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=len(people) + 10))

    async def _follow(self, person: str, url: str) -> None:
        async with self._client.stream(
            "GET", f"{url}/v1/alerts/stream", params={"person_id": person}, headers=self.headers[person]
        ) as r:
            r.raise_for_status()
            self.opened += 1
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    if data.get("event") == "alert":
                        self.seen.setdefault((data["task_id"], data["kind"]), time.time())

    async def __aenter__(self) -> Streams:
        # Spread over the replicas: any replica serves any person (PostgreSQL NOTIFY reaches them all).
        self._tasks = [
            asyncio.create_task(self._follow(p, self.urls[i % len(self.urls)])) for i, p in enumerate(self.people)
        ]
        for _ in range(300):
            if self.opened == len(self.people):
                return self
            if failed := next((t for t in self._tasks if t.done() and t.exception()), None):
                raise RuntimeError(f"a stream could not open: {failed.exception()!r}")
            await asyncio.sleep(0.1)
        raise TimeoutError(f"only {self.opened} of {len(self.people)} streams opened")

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()


def _assigned(task_id: str, officer: str, due: date) -> Any:
    payload = TaskAssigned(
        code=f"BENCH#{task_id}",
        title=f"Nhiệm vụ đo hiệu năng {task_id}",
        source_document=DOC,
        assigning_agency_id="ubnd-bench",
        lead_agency_id=LEAD,
        officer_in_charge_id=officer,
        deadline=parse_deadline_or_date(due.isoformat(), DOC.issued_on),
    )
    return new_envelope(
        payload,
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(VN_TZ),
        producer="assignment",
        actor=Actor(agency_id="ubnd-bench"),
        task_id=task_id,
    )


async def _publish(producer: AIOKafkaProducer, envelope: Any, wait: bool = True) -> None:
    record = to_record(envelope)
    if wait:
        await producer.send_and_wait(record.topic, record.value, key=record.key, headers=list(record.headers))
    else:
        await producer.send(record.topic, record.value, key=record.key, headers=list(record.headers))


async def _wait_count(db: asyncpg.Connection, sql: str, n: int, what: str, limit_s: float = 900) -> float:
    started = time.monotonic()
    while (count := await db.fetchval(sql)) < n:
        if time.monotonic() - started > limit_s:
            raise TimeoutError(f"{what}: {count} of {n} after {limit_s:.0f} s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def run(
    tasks: int,
    streams: int,
    home: Path | None,
    say: Any,
    *,
    timer_poll_s: float | None = None,
    replicas: int = 1,
    due_together: int | None = None,
    backlog: int = 0,
) -> Report:
    report = Report()
    due_together = streams if due_together is None else due_together
    with isolated_infra(home) as (bootstrap, database_url, bench_home):
        env = {
            **os.environ,
            "DONDOC_KAFKA_BOOTSTRAP": bootstrap,
            "DONDOC_DATABASE_URL": database_url,
            "DONDOC_LOG_FORMAT": "json",
            "DONDOC_LOG_LEVEL": "WARNING",
        }
        if timer_poll_s is not None:
            env["DONDOC_TIMER_POLL_INTERVAL_S"] = str(timer_poll_s)
        report.facts["setup"] = (
            f"{replicas} replica(s) of progress and of alerts; timer poll "
            f"{env.get('DONDOC_TIMER_POLL_INTERVAL_S', 'default')} s"
        )
        progress = [Service("progress", env, bench_home, i) for i in range(replicas)]
        alerts = [Service("alerts", env, bench_home, i) for i in range(replicas)]
        offset = _offset_to(datetime.combine(DAY_X, dtime(9, 0), tzinfo=VN_TZ))
        # The bench plays the assignment service, whose principal may write the task events.
        as_assignment = as_principal(Settings(kafka_bootstrap=bootstrap), service_principal("assignment"))
        producer = AIOKafkaProducer(**producer_options(as_assignment), enable_idempotence=True, linger_ms=5)
        db = await asyncpg.connect(database_url)
        try:
            say("starting the progress and alerts services")
            await asyncio.gather(*(s.start({"DONDOC_CLOCK_OFFSET_S": offset}) for s in progress + alerts))
            await producer.start()
            people = [f"bench-person-{i:03d}" for i in range(streams)]
            say(f"loading {tasks} open tasks")
            await _load(producer, db, report, tasks, people, due_together)
            # The bench's people are unknown to the directory: their alerts name their agency, the lead.
            # Issued on the services' clock (shifted to DAY_X): a token of today would have expired there.
            issued = datetime.combine(DAY_X, dtime(8, 0), tzinfo=VN_TZ)
            secret = Settings().token_secret
            async with Streams([a.url for a in alerts], people, lambda: auth.issue(secret, LEAD, issued)[0]) as sse:
                say(f"{streams} SSE streams open; measuring TaskAssigned → officer's stream")
                report.results.append(await _assigned_to_stream(producer, sse, people))
                say("restarting progress just before midnight; measuring deadline → stream")
                report.results.append(
                    await _deadline_to_stream(
                        progress, sse, report, due_together, producer if backlog else None, backlog, alerts
                    )
                )
            report.facts["streams"] = f"{streams} open SSE streams; {due_together} tasks due at the same midnight"
        finally:
            await producer.stop()
            await db.close()
            for service in progress + alerts:
                service.stop()
    return report


async def _load(
    producer: AIOKafkaProducer,
    db: asyncpg.Connection,
    report: Report,
    tasks: int,
    people: list[str],
    due_together: int,
) -> None:
    started = time.monotonic()
    for i in range(tasks):
        due = DAY_X + timedelta(days=30 + i % 270)  # spread over nine months: nothing fires during the bench
        # The first ones go to the streams' people: an alert names their agency, whose token reads them.
        officer = people[i] if i < len(people) else f"bench-officer-{i % 2000}"
        await _publish(producer, _assigned(f"bench-open-{i}", officer, due), wait=False)
    # Tasks due on DAY_X, one per stream in turn: their deadline passes in the second measurement.
    for i in range(due_together):
        await _publish(producer, _assigned(f"bench-due-{i}", people[i % len(people)], DAY_X), wait=False)
    await producer.flush()
    total = tasks + due_together
    await _wait_count(db, "SELECT count(*) FROM progress.tasks", total, "progress to load the tasks")
    await _wait_count(db, "SELECT count(*) FROM alerts.alerts", total, "alerts to raise the assignments")
    report.facts["load"] = f"{total} TaskAssigned consumed by both services in {time.monotonic() - started:.1f} s"
    report.facts["timers"] = str(await db.fetchval("SELECT count(*) FROM progress.timers WHERE status = 'scheduled'"))


async def _assigned_to_stream(producer: AIOKafkaProducer, sse: Streams, people: list[str]) -> Result:
    sent: dict[str, float] = {}
    for i in range(2 * len(people)):  # paced: one every 50 ms
        task_id = f"bench-assign-{i}"
        envelope = _assigned(task_id, people[i % len(people)], DAY_X + timedelta(days=1))
        sent[task_id] = time.time()
        await _publish(producer, envelope)
        await asyncio.sleep(0.05)
    await _until(lambda: all((t, "assigned") in sse.seen for t in sent), 30)
    latencies = [(sse.seen[(t, "assigned")] - s) * 1000 for t, s in sent.items() if (t, "assigned") in sse.seen]
    return Result("TaskAssigned → officer's stream", latencies, len(sent), 200.0)


async def _deadline_to_stream(
    progress: list[Service],
    sse: Streams,
    report: Report,
    due_together: int,
    producer: AIOKafkaProducer | None = None,
    backlog: int = 0,
    alerts: Sequence[Service] = (),
) -> Result:
    for service in progress:
        service.stop()
    midnight = datetime.combine(DAY_X + timedelta(days=1), dtime(0, 0), tzinfo=VN_TZ)
    offset = _offset_to(midnight - timedelta(seconds=RESTART_MARGIN_S))
    await asyncio.gather(*(s.start({"DONDOC_CLOCK_OFFSET_S": offset}) for s in progress))
    deadline_at = midnight.timestamp() - float(offset)  # when the progress clock reads midnight
    report.facts["restart"] = (
        f"progress restarted and ready {deadline_at - time.time():.1f} s before the deadline passed on its clock"
    )
    due_ids = [f"bench-due-{i}" for i in range(due_together)]
    # When each stream's person was notified (the commit of their overdue entry, services/alerts/inapp.py): splits
    # the alerts' part into its transaction (handled → notified) and the stream's own step (notified → streamed).
    notified: dict[str, float] = {}
    listener = await asyncpg.connect(progress[0].env["DONDOC_DATABASE_URL"])

    def heard(_conn: object, _pid: int, _channel: str, person: str) -> None:
        if time.time() >= deadline_at and person in sse.headers:
            notified.setdefault(person, time.time())

    await listener.add_listener(NOTIFY_CHANNEL, heard)
    drained = asyncio.create_task(_drained_at(progress[0].env["DONDOC_DATABASE_URL"], deadline_at)) if backlog else None
    probed = {"progress": progress[0].url} | ({"alerts": alerts[0].url} if alerts else {})
    lags = asyncio.create_task(_loop_lag(probed, deadline_at))
    if producer is not None and backlog:
        # A bulk import lands just before the deadline: the overdue alerts must not wait behind it.
        started = time.monotonic()
        for i in range(backlog):
            officer = f"bench-import-officer-{i % 500}"
            await _publish(producer, _assigned(f"bench-import-{i}", officer, DAY_X + timedelta(days=60)), wait=False)
        await producer.flush()
        report.facts["backlog"] = (
            f"{backlog} TaskAssigned published in {time.monotonic() - started:.1f} s, ending "
            f"{deadline_at - time.time():.1f} s before the deadline passed"
        )
    await _until(lambda: all((t, "overdue") in sse.seen for t in due_ids), 60 + backlog / 50)
    if drained is not None:
        # Whether the import was still draining when the deadline passed: if not, this measured no contention.
        applied = await drained
        report.facts["at the deadline"] = ", ".join(f"{n:,} of {backlog:,} imported tasks in {s}" for s, n in applied)
    # The services' own event-loop lag (runtime/sampling.py) in the seconds after the deadline: how long a
    # ready callback, such as the next step of a firing or of a stream, waited behind other work.
    report.facts["event-loop lag"] = ", ".join(f"{name} max {ms:.0f} ms" for name, ms in (await lags).items())
    latencies = [(sse.seen[(t, "overdue")] - deadline_at) * 1000 for t in due_ids if (t, "overdue") in sse.seen]
    await listener.close()
    report.facts["deadline stages"] = await _stages(
        progress[0].env["DONDOC_DATABASE_URL"], due_ids, deadline_at, sse, notified
    )
    return Result(
        f"deadline passes → alert on the stream ({due_together} due at once)", latencies, len(due_ids), 1000.0
    )


async def _loop_lag(urls: dict[str, str], deadline_at: float, span_s: float = 3.0) -> dict[str, float]:
    """The largest ``dondoc_event_loop_lag_seconds`` each service reported from the deadline for ``span_s``."""
    worst = dict.fromkeys(urls, 0.0)
    await asyncio.sleep(max(0.0, deadline_at - time.time()))
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.time() < deadline_at + span_s:
            for name, url in urls.items():
                with suppress(httpx.HTTPError):
                    for line in (await client.get(f"{url}/metrics")).text.splitlines():
                        if line.startswith("dondoc_event_loop_lag_seconds{"):
                            worst[name] = max(worst[name], float(line.rsplit(" ", 1)[1]) * 1000)
            await asyncio.sleep(0.1)
    return worst


async def _drained_at(database_url: str, deadline_at: float) -> list[tuple[str, int]]:
    """How many imported tasks each service had applied when the deadline passed."""
    await asyncio.sleep(max(0.0, deadline_at - time.time()))
    db = await asyncpg.connect(database_url)
    try:
        return [
            (schema, await db.fetchval(f"SELECT count(*) FROM {schema}.tasks WHERE task_id LIKE 'bench-import-%'"))
            for schema in ("progress", "alerts")
        ]
    finally:
        await db.close()


async def _stages(
    database_url: str, task_ids: list[str], deadline_at: float, sse: Streams, notified: dict[str, float]
) -> str:
    """Where the time went, cumulative from the deadline (p50 / p99 ms): timer fired (progress), overdue
    event published (relay), handled by alerts (its transaction began), its person notified (the transaction
    committed: the bench listens too), on the stream (the bench saw it).
    Database times are the server's clock, the same machine's as the bench's."""
    db = await asyncpg.connect(database_url)
    try:
        rows = await db.fetch(
            """SELECT t.subject_id, extract(epoch FROM t.fired_at) AS fired,
                      extract(epoch FROM o.published_at) AS published, extract(epoch FROM i.processed_at) AS handled
               FROM progress.timers t
               JOIN progress.outbox o ON o.key = t.subject_id AND o.headers @> '[["event_type", "TaskOverdue"]]'
               JOIN alerts.inbox i ON i.event_id = o.event_id
               WHERE t.kind = 'task-overdue' AND t.status = 'fired' AND t.subject_id = ANY($1)""",
            task_ids,
        )
    finally:
        await db.close()
    stages: dict[str, list[float]] = {"fired": [], "published": [], "handled": [], "notified": [], "streamed": []}
    officer = {f"bench-due-{i}": sse.people[i % len(sse.people)] for i in range(len(task_ids))}
    for r in rows:
        for stage in ("fired", "published", "handled"):
            stages[stage].append((float(r[stage]) - deadline_at) * 1000)
        if (at := notified.get(officer.get(r["subject_id"], ""))) is not None:
            stages["notified"].append((at - deadline_at) * 1000)
        if (seen := sse.seen.get((r["subject_id"], "overdue"))) is not None:
            stages["streamed"].append((seen - deadline_at) * 1000)
    parts = []
    for stage, values in stages.items():
        if values:
            r = Result(stage, values, len(values), 0)
            parts.append(f"{stage} {statistics.median(values):.0f}/{r.percentile(0.99):.0f}")
    return f"{len(rows)} tasks; " + ", ".join(parts) + " (p50/p99 ms since the deadline)"


async def _until(condition: Any, limit_s: float) -> None:
    """Poll ``condition`` every 50 ms for at most ``limit_s`` (what was missed shows in the samples)."""
    for _ in range(int(limit_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def _offset_to(domain_now: datetime) -> str:
    """DONDOC_CLOCK_OFFSET_S that makes a service's domain clock read ``domain_now`` now."""
    return f"{domain_now.timestamp() - time.time():.6f}"


def summary(result: Result) -> dict[str, float]:
    data = result.latencies_ms
    return {
        "p50": statistics.median(data) if data else float("nan"),
        "p99": result.percentile(0.99),
        "max": max(data) if data else float("nan"),
    }
