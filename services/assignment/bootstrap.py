"""The assignment service: the front door where agencies assign tasks."""

from __future__ import annotations

from pathlib import Path

from services.assignment.routes import router
from services.runtime.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="assignment",
    title="dondoc — giao nhiệm vụ (assignment)",
    migrations=Path(__file__).parent / "migrations",
    routers=(router,),
)
