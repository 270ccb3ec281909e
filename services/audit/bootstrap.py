"""The audit service: an append-only, hash-chained copy of every event, for inspectors."""

from __future__ import annotations

from pathlib import Path

from events.topics import ALERT_EVENTS, DIRECTORY, INTAKE_REJECTED, REPORT_EVENTS, TASK_EVENTS
from services.audit.handlers import EVENT_HANDLERS
from services.audit.replay_policy import REPLAY_POLICY
from services.audit.routes import router
from services.runtime.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="audit",
    title="dondoc — kiểm tra, giám sát (audit)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS, ALERT_EVENTS, DIRECTORY, INTAKE_REJECTED, REPORT_EVENTS),
    handlers=EVENT_HANDLERS,
    routers=(router,),
    replay=REPLAY_POLICY,
)
