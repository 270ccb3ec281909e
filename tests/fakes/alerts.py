"""A fake of the alerts service's repository (services/alerts/adapters.py), in-app stream
(services/alerts/inapp.py) and timers, for its command handlers (services/alerts/commands.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from services.alerts import commands


def an_alert(alert_id: uuid.UUID, **columns: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "alert_id": alert_id,
        "task_id": "t-1",
        "recipient_person_id": "can-bo-1",
        "recipient_agency_id": "so-gddt",
        "acknowledged_at": None,
        "resolved_at": None,
    }
    return {**row, **columns}


@dataclass
class InMemoryAlerts:
    alerts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    stream: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    # adapters
    async def get_alert(self, _conn: Any, alert_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
        alert = self.alerts.get(alert_id)
        return dict(alert) if alert is not None else None

    async def acknowledge(self, _conn: Any, alert_id: uuid.UUID, at: datetime) -> None:
        self.alerts[alert_id]["acknowledged_at"] = at

    # inapp
    async def lock_people(self, _conn: Any, _person_ids: Any) -> None:
        return None

    async def append(self, _conn: Any, person_id: str, kind: str, data: dict[str, Any]) -> int:
        self.stream.append((person_id, kind, data))
        return len(self.stream)

    # timers
    async def cancel(self, _conn: Any, subject_id: str, kinds: tuple[str, ...] | None = None) -> int:
        self.cancelled.append(subject_id)
        return 1


def install(monkeypatch: pytest.MonkeyPatch) -> InMemoryAlerts:
    store = InMemoryAlerts()
    for port in ("adapters", "inapp", "timers"):
        monkeypatch.setattr(commands, port, store)
    return store
