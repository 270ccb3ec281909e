"""Settings of the progress service, from ``DONDOC_PROGRESS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProgressConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONDOC_PROGRESS_", extra="ignore", frozen=True)

    # Working days before the deadline at which the people responsible are reminded (DESIGN §4).
    lead_days: tuple[int, ...] = Field((7, 3, 1), description="e.g. DONDOC_PROGRESS_LEAD_DAYS='[7,3,1]'")
    # Key tasks (nhiệm vụ trọng tâm) are followed more tightly: the last reminders come closer together.
    key_task_lead_days: tuple[int, ...] = (3, 2, 1)

    # Timer workers per process, each claiming a small batch: when many deadlines pass at the same
    # midnight they fire side by side (and across replicas) instead of one after another in a single
    # claimed batch. Safe by the timers' own invariants (SKIP LOCKED + lease token, runtime/timers.py).
    timer_workers: int = Field(4, ge=1, le=16)
    timer_batch_size: int = Field(25, ge=1)
