"""A drill's own stack: Kafka, PostgreSQL and the five services as processes, which a fault may kill.

Like ``dondoc bench``, a drill never touches the operator's stack: its servers run in a fresh
``DONDOC_HOME`` on free ports (``deploy.isolated.isolated_infra``), and the services are started
as ``dondoc up`` starts them (``services.cli.stack.start_service``: each its own Kafka principal). What a
fault needs is here: kill a service or a server, start it again, and measure how far behind things are.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy._proc import free_port
from events.clock import SystemClock
from events.topics import INTAKE, SERVICES, TOPICS
from services.runtime.kafka_config import client_options
from services.runtime.settings import Settings

# The agencies the load acts as (seed directory): the province assigns, the Sở GDĐT leads and delegates.
AGENCIES = ("ubnd-bd", "bd-sgddt")
READY_TIMEOUT_S = 120.0


@dataclass
class Timeline:
    """What the drill did when, printed as it happens and kept for the summary."""

    started: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)
    say: Any = print

    def note(self, what: str) -> None:
        line = f"t+{time.monotonic() - self.started:7.1f}s  {what}"
        self.lines.append(line)
        self.say(line)


@dataclass
class Target:
    """Where load goes and what the checker reads: the public ways in and the database behind them."""

    urls: dict[str, str]
    database_url: str
    kafka: Settings  # the operator's (admin) principal: the drill publishes intake records and reads lag
    tokens: dict[str, Any]  # agency → IssuedToken
    token_secret: str

    def headers_for(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[agency].token}"}


async def issue_tokens(database_url: str, secret: str) -> dict[str, Any]:
    """The seed directory and one token per acting agency, as an operator sets up an installation."""
    from services.assignment import provision

    return await provision.prepare(database_url, SystemClock(), secret, list(AGENCIES))


class DrillStack:
    """The five services as child processes on the drill's own Kafka and PostgreSQL."""

    def __init__(self, bootstrap: str, database_url: str, home: Path) -> None:
        from deploy import stack

        self.home = home
        self.logs = home / "logs"
        self.ports = {name: free_port() for name in SERVICES}
        self.env = {
            **os.environ,
            "DONDOC_KAFKA_BOOTSTRAP": bootstrap,
            "DONDOC_DATABASE_URL": database_url,
            "DONDOC_LOG_FORMAT": "json",
            "DONDOC_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **{f"DONDOC_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        # The operator's own audit database (set by the CLI for the installation) is not the drill's.
        self.env.pop("DONDOC_AUDIT_DATABASE_URL", None)
        self.kafka = stack.kafka_admin(bootstrap).model_copy(update={"database_url": database_url})
        self.database_url = database_url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(SERVICES, 0)
        self.lag_probe = LagProbe(self.kafka)

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    # -- services ---------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        from services.cli.stack import start_service

        self.procs[name] = start_service(name, self.env, self.logs)

    async def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)
        await asyncio.gather(*(self.wait_ready(name) for name in SERVICES))

    async def wait_ready(self, name: str, timeout: float = READY_TIMEOUT_S) -> float:  # noqa: ASYNC109
        """Seconds until ``name`` answers /readyz 200; raises if it exits or takes longer than ``timeout``."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.logs / (name + '.log')}")
                with suppress(httpx.HTTPError):
                    if (await client.get(f"{self.urls[name]}/readyz")).status_code == 200:
                        return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{name} not ready after {timeout:.0f}s; see {self.logs / (name + '.log')}")
                await asyncio.sleep(0.2)

    async def all_ready(self) -> bool:
        return not await self.not_ready()

    async def not_ready(self) -> dict[str, str]:
        """Each service not ready, with what its /readyz says."""
        problems = {}
        async with httpx.AsyncClient(timeout=2.0) as client:
            for name, url in self.urls.items():
                try:
                    answer = await client.get(f"{url}/readyz")
                    if answer.status_code != 200:
                        problems[name] = answer.text[:300]
                except httpx.HTTPError as exc:
                    problems[name] = repr(exc)
        return problems

    def kill(self, name: str) -> None:
        """kill -9 of the service's process group: no shutdown hook runs, nothing is flushed."""
        proc = self.procs[name]
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    async def restart(self, name: str) -> float:
        self.restarts[name] += 1
        self.start(name)
        return await self.wait_ready(name)

    def stop_all(self) -> None:
        from services.cli.stack import stop_services

        stop_services(self.procs)

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items() if proc.poll() is None}

    # -- servers ----------------------------------------------------------------------------------

    async def kafka_stop(self, *, kill: bool = False) -> None:
        from deploy import stack

        node = stack.kafka_node()
        if kill and (pid := node.pid()) is not None:
            os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(_wait_gone, pid)
        await asyncio.to_thread(node.stop)

    async def kafka_start(self) -> None:
        from deploy import stack

        await asyncio.to_thread(stack.kafka_node().start)

    async def postgres_restart(self, *, immediate: bool) -> None:
        from deploy import stack

        pg = stack.local_postgres()
        await asyncio.to_thread(pg.stop, immediate=immediate)
        await asyncio.to_thread(pg.start)

    # -- how far behind ---------------------------------------------------------------------------

    async def lag(self) -> int:
        """Records the consumer groups have not committed past, plus outbox rows not yet published."""
        return await self.lag_probe.behind() + await outbox_backlog(self.database_url)

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for name, pid in self.pids().items():
            with suppress(psutil.Error):
                process = psutil.Process(pid)
                out[name] = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
        return out

    def connections(self) -> dict[str, int]:
        out = {}
        for name, pid in self.pids().items():
            with suppress(psutil.Error):
                out[name] = len(psutil.Process(pid).net_connections(kind="tcp"))
        return out


def _wait_gone(pid: int) -> None:
    from deploy._proc import pid_alive, wait_until

    wait_until(lambda: not pid_alive(pid), 30)


def _groups() -> dict[str, tuple[str, ...]]:
    from services.registry import definition

    groups = {f"dondoc.{name}": tuple(definition(name).topics) for name in SERVICES if definition(name).topics}
    groups["dondoc.assignment.intake"] = (INTAKE,)
    return groups


class LagProbe:
    """Records each service's consumer groups have not committed past; its two clients kept open between
    probes (making them anew each time took longer than the soak's sampling interval on a busy machine)."""

    def __init__(self, kafka: Settings) -> None:
        partitions = {spec.name: spec.partitions for spec in TOPICS}
        self.groups = _groups()
        self.wanted = sorted(
            {TopicPartition(t, p) for topics in self.groups.values() for t in topics for p in range(partitions[t])}
        )
        self.kafka = kafka
        self.consumer: AIOKafkaConsumer | None = None
        self.admin: AIOKafkaAdminClient | None = None

    async def behind(self) -> int:
        if self.consumer is None or self.admin is None:
            consumer = AIOKafkaConsumer(**client_options(self.kafka), group_id=None, enable_auto_commit=False)
            admin = AIOKafkaAdminClient(**client_options(self.kafka))
            await consumer.start()
            try:
                await admin.start()
            except BaseException:
                await consumer.stop()
                raise
            self.consumer, self.admin = consumer, admin
        try:
            ends = await asyncio.wait_for(self.consumer.end_offsets(self.wanted), 30)
            behind = 0
            for group, topics in self.groups.items():
                mine = [tp for tp in self.wanted if tp.topic in topics]
                committed = await self.admin.list_consumer_group_offsets(group, partitions=mine)
                for tp in mine:
                    meta = committed.get(tp)
                    done = meta.offset if meta is not None and meta.offset >= 0 else 0
                    behind += max(ends[tp] - done, 0)
            return behind
        except BaseException:
            await self.close()  # the broker went away: the next probe starts afresh
            raise

    async def close(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        if self.consumer is not None:
            await self.consumer.stop()
        self.consumer = self.admin = None


async def outbox_backlog(database_url: str) -> int:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        total = 0
        for name in SERVICES:
            total += await conn.fetchval(
                f"SELECT count(*) FROM {name}.outbox WHERE published_at IS NULL AND parked_at IS NULL"
            )
        return total
    finally:
        await conn.close()


async def until_caught_up(stack: DrillStack, timeline: Timeline, *, since: float, limit_s: float = 600) -> float:
    """Seconds from ``since`` (a fault's end, monotonic) until every service is ready and nothing is behind."""
    deadline = time.monotonic() + limit_s
    why: object = None
    while True:
        try:
            why = await stack.not_ready() or await stack.lag()
            if not why:
                return time.monotonic() - since
        except Exception as exc:  # the broker or database still coming back
            why = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"not caught up {limit_s:.0f}s after the fault (not ready, or records behind): {why!r}")
        await asyncio.sleep(0.5)


@contextmanager
def own_infra(home: Path | None, brokers: int = 1) -> Iterator[tuple[str, str, Path]]:
    """Kafka and PostgreSQL of the drill's own in ``home`` (a temporary folder, removed afterwards, if None):
    (bootstrap, database URL, home)."""
    from deploy import stack
    from deploy.isolated import isolated_infra  # the one helper of the tests, the benches and the drills

    own = home is None
    home = home or Path(tempfile.mkdtemp(prefix="dondoc-drill-"))

    def secrets() -> dict[str, str]:  # the drill's installation has its own, as `dondoc up` makes them
        return {"DONDOC_TOKEN_SECRET": stack.token_secret(), "DONDOC_AUDIT_KEY": stack.audit_key()}

    try:
        with isolated_infra(home, secrets, brokers=brokers) as endpoints:
            yield endpoints.kafka_bootstrap, endpoints.database_url, home
    finally:
        if own:
            shutil.rmtree(home, ignore_errors=True)


@asynccontextmanager
async def drill_stack(
    home: Path | None, say: Any = print, brokers: int = 1
) -> AsyncIterator[tuple[DrillStack, Target]]:
    """Starts the drill's servers and services (on a local cluster of ``brokers`` if more than one); stops them
    all at the end (unless ``home`` is kept)."""
    with own_infra(home, brokers) as (bootstrap, database_url, drill_home):
        stack = DrillStack(bootstrap, database_url, drill_home)
        say(f"drill home {drill_home}; services' logs in {stack.logs}")
        try:
            await stack.start_all()
            secret = os.environ["DONDOC_TOKEN_SECRET"]
            tokens = await issue_tokens(database_url, secret)
            yield stack, Target(stack.urls, database_url, stack.kafka, tokens, secret)
        finally:
            await stack.lag_probe.close()
            stack.stop_all()
