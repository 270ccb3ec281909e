"""The alerts service: tells people, not agencies, before and after a deadline."""

from __future__ import annotations

from pathlib import Path

from events.topics import TASK_EVENTS
from services.alerts.handlers import EVENT_HANDLERS
from services.alerts.routes import router
from services.runtime.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="alerts",
    title="dondoc — cảnh báo (alerts)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS,),
    handlers=EVENT_HANDLERS,
    routers=(router,),
)
