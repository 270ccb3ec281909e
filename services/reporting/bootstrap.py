"""The reporting service: the leaders' figures, from events only."""

from __future__ import annotations

from pathlib import Path

from events.topics import TASK_EVENTS
from services.reporting.handlers import EVENT_HANDLERS
from services.reporting.routes import router
from services.runtime.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="dondoc — báo cáo (reporting)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS,),
    handlers=EVENT_HANDLERS,
    routers=(router,),
)
