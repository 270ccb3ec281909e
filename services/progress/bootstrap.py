"""The progress service: status of each task and its durable deadline timers. The composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from events.topics import DIRECTORY, INTAKE, TASK_EVENTS
from services.progress import handlers, intake
from services.progress.config import ProgressConfig
from services.progress.routes import build_router, worklist_router
from services.progress.timer_handlers import BATCH_TIMER_HANDLERS, TIMER_HANDLERS
from services.runtime.definition import BackgroundTask, Runtime, ServiceDefinition
from services.runtime.raw_consumer import raw_consumer
from services.runtime.timers import TimerWorker


def _deadline_timers(config: ProgressConfig) -> BackgroundTask:
    async def deadline_timers(rt: Runtime) -> None:
        workers = [
            TimerWorker(
                rt.pool,
                rt.clock,
                TIMER_HANDLERS,
                service=rt.service,
                schema=rt.definition.schema,
                poll_interval_s=rt.settings.timer_poll_interval_s,
                lease_s=rt.settings.timer_lease_s,
                batch_size=config.timer_batch_size,
                batch_handlers=BATCH_TIMER_HANDLERS,
            )
            for _ in range(config.timer_workers)
        ]
        await asyncio.gather(*(w.run() for w in workers))

    return deadline_timers


def definition(config: ProgressConfig | None = None) -> ServiceDefinition:
    config = config or ProgressConfig()
    return ServiceDefinition(
        name="progress",
        title="dondoc — tiến độ và thời hạn (progress)",
        migrations=Path(__file__).parent / "migrations",
        # The directory only for revocations and people's standing (the runtime records them:
        # runtime/revocations.py); the rest is ignored.
        topics=(TASK_EVENTS, DIRECTORY),
        handlers=handlers.handlers(config),
        routers=(build_router(config), worklist_router),
        background=(_deadline_timers(config), raw_consumer(INTAKE, "intake", intake.build(config))),
        # The deadline burst path: many tasks' events at once, each task's in order (runtime/consuming.py).
        consumer_concurrency=8,
        batch_handler=handlers.batch_handler(config),
        replay_refusal="progress is a source of truth, not a projection: task status comes from commands (HTTP and "
        "dondoc.intake), its handlers stamp the wall clock and its own deadline timers fire on it; a replay would "
        "re-arm those timers on today's clock instead of rebuilding what was. Restore its schema from a database "
        "backup instead.",
    )


DEFINITION = definition()
