"""The assignment service: the front door where agencies assign, delegate, extend and withdraw tasks,
and the owner of the directory of agencies and people."""

from __future__ import annotations

from pathlib import Path

from events.topics import INTAKE, TASK_EVENTS
from services.assignment import handlers, tokens
from services.assignment.intake.processor import build as intake_processor
from services.assignment.routes import ROUTERS
from services.runtime.definition import ServiceDefinition
from services.runtime.raw_consumer import raw_consumer

DEFINITION = ServiceDefinition(
    name="assignment",
    title="dondoc — giao nhiệm vụ (assignment)",
    migrations=Path(__file__).parent / "migrations",
    # Only whether a task is still open (handlers.py): a reorganisation moves open tasks only.
    topics=(TASK_EVENTS,),
    handlers=handlers.handlers(),
    routers=ROUTERS,
    # Intake records are agency commands, not envelopes: they get their own subscriber (see raw_consumer).
    background=(raw_consumer(INTAKE, "intake", intake_processor),),
    token_standing=tokens.standing,  # its own token table: no delay after a revocation
    person_standing=tokens.person_standing,  # its own directory: a departure counts at once
    replay_refusal="assignment is a source of truth, not a projection: its tasks and directory come from commands "
    "(HTTP and dondoc.intake); of dondoc.task-events it keeps only whether a task is still open, so there "
    "is no log to rebuild it from. Restore its schema from a database backup instead.",
)
