"""A fake of the assignment service's task repository (services/assignment/tasks/adapters.py) for its
consumed-event handlers (services/assignment/handlers.py): each task's ``completed_at``, on a dict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.assignment import handlers


class InMemoryCompletion:
    """``adapters.set_completed``: done keeps the first time, not done clears it, unknown tasks are left."""

    def __init__(self, *task_ids: str) -> None:
        self.completed_at: dict[str, datetime | None] = dict.fromkeys(task_ids)

    async def set_completed(self, _conn: Any, task_id: str, done: bool, at: datetime) -> None:
        if task_id in self.completed_at:
            self.completed_at[task_id] = (self.completed_at[task_id] or at) if done else None


def install(monkeypatch: pytest.MonkeyPatch, *task_ids: str) -> InMemoryCompletion:
    store = InMemoryCompletion(*task_ids)
    monkeypatch.setattr(handlers, "adapters", store)
    return store
