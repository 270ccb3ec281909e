"""The audit service: an append-only, keyed hash chain of every event, for inspectors."""

from __future__ import annotations

from pathlib import Path

from events.topics import ALERT_EVENTS, DIRECTORY, INTAKE_REJECTED, REPORT_EVENTS, TASK_EVENTS
from services.audit.checkpoints import publish_checkpoints
from services.audit.handlers import batch_handler, handlers
from services.audit.replay_policy import REPLAY_POLICY
from services.audit.routes import router
from services.runtime.definition import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="audit",
    title="dondoc — kiểm tra, giám sát (audit)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS, ALERT_EVENTS, DIRECTORY, INTAKE_REJECTED, REPORT_EVENTS),
    handlers_from_settings=handlers,
    batch_handler_from_settings=batch_handler,
    routers=(router,),
    background=(publish_checkpoints,),
    replay=REPLAY_POLICY,
    # consumer_concurrency stays 1 and the runs go across partitions: the chain is one order, the order
    # events were consumed in.
)
