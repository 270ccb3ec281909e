"""HTTP routes of the assignment service: the routers of its two parts, tasks and the directory."""

from __future__ import annotations

from services.assignment.directory.routes import router as directory_router
from services.assignment.tasks.routes import router as tasks_router

ROUTERS = (tasks_router, directory_router)
