"""What a service is (``ServiceDefinition``) and what a running one holds (``Runtime``).

Apart from service.py, which wires them together: health, replay and every service need these types, and
importing them must not import the wiring (which imports health and replay itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Request
from faststream.kafka import KafkaBroker

from events.clock import Clock
from services.runtime.consuming import Consumer
from services.runtime.producers import RenewableProducer
from services.runtime.relay import OutboxRelay
from services.runtime.settings import Settings
from services.runtime.unit_of_work import Handler, UnitOfWork

if TYPE_CHECKING:  # types only: these modules need nothing of this one at run time either
    from services.runtime.auth import PersonStanding, TokenStanding
    from services.runtime.consuming import BatchHandler
    from services.runtime.replay.policy import ReplayPolicy

BackgroundTask = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    migrations: Path
    topics: Sequence[str] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # Handlers that need a setting (the audit chain's key) are made from the settings at start; the
    # factory raising refuses to start the service, before it connects to anything.
    handlers_from_settings: Callable[[Settings], Mapping[str, Handler]] | None = None
    routers: Sequence[APIRouter] = ()
    background: Sequence[BackgroundTask] = ()
    title: str = ""
    # Keys (tasks, agencies, people) handled side by side within a fetched batch; each key's events
    # stay in order (consuming.py). 1 keeps the whole partition's order, which the audit chain needs.
    consumer_concurrency: int = 1
    # Runs of these events applied together in one transaction (consuming.py); None: one by one.
    batch_handler: BatchHandler | None = None
    batch_handler_from_settings: Callable[[Settings], BatchHandler] | None = None
    # Records per run (consuming.py) for this service, over the shared DONDOC_CONSUMER_RUN_SIZE: a service off the
    # deadline path whose cost is per run rather than per event applies longer runs. None: the setting.
    consumer_run_size: int | None = None
    # `dondoc replay` (runtime/replay): what a rebuild of this projection from the log compares and keeps;
    # a source of truth, which no log can rebuild, has none and says why in replay_refusal.
    replay: ReplayPolicy | None = None
    replay_refusal: str = ""
    # Whether a verified bearer token still counts (runtime/auth.py); None: the revocations read from the directory.
    token_standing: TokenStanding | None = None
    # Whether a signed-in person still stands in the directory (runtime/auth.py); None: as read from the directory.
    person_standing: PersonStanding | None = None

    @property
    def schema(self) -> str:
        return self.name

    def handlers_for(self, settings: Settings) -> Mapping[str, Handler]:
        return self.handlers_from_settings(settings) if self.handlers_from_settings else self.handlers

    def batch_handler_for(self, settings: Settings) -> BatchHandler | None:
        if self.batch_handler_from_settings:
            return self.batch_handler_from_settings(settings)
        return self.batch_handler


@dataclass
class Runtime:
    """What a running service holds; reachable from routes as ``request.app.state.runtime``."""

    definition: ServiceDefinition
    settings: Settings
    clock: Clock
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    relay: OutboxRelay
    dead_letters: RenewableProducer  # the consumers' dead letters, replaced after a fatal error (producers.py)
    consumer: Consumer | None = None
    broker: KafkaBroker | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Raw consumers' brokers (group id, broker), whose lag runtime/sampling.py reports beside the event consumer's.
    lag_sources: list[tuple[str, KafkaBroker]] = field(default_factory=list)

    @property
    def service(self) -> str:
        return self.definition.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield UnitOfWork(conn, self.service, self.definition.schema, self.clock)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]
