"""The progress service: status of each task and its durable deadline timers."""

from __future__ import annotations

from pathlib import Path

from events.topics import TASK_EVENTS
from services.progress.handlers import EVENT_HANDLERS, TIMER_HANDLERS
from services.progress.routes import router
from services.runtime.service import Runtime, ServiceDefinition
from services.runtime.timers import TimerWorker


async def deadline_timers(rt: Runtime) -> None:
    await TimerWorker(
        rt.pool, rt.clock, TIMER_HANDLERS, service=rt.service, schema=rt.definition.schema,
        poll_interval_s=rt.settings.timer_poll_interval_s, lease_s=rt.settings.timer_lease_s,
    ).run()


DEFINITION = ServiceDefinition(
    name="progress",
    title="dondoc — tiến độ và thời hạn (progress)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS,),
    handlers=EVENT_HANDLERS,
    routers=(router,),
    background=(deadline_timers,),
)
