"""The reporting service: the leaders' figures, from events only, and the dashboard."""

from __future__ import annotations

from pathlib import Path

from events.topics import DIRECTORY, TASK_EVENTS
from services.reporting import handlers
from services.reporting.dashboard import router as dashboard_router
from services.reporting.dashboard_actions import router as dashboard_actions
from services.reporting.live import keep_live_day
from services.reporting.monthly import monthly_reports
from services.reporting.reorganisations import router as reorganisations_router
from services.reporting.replay_policy import REPLAY_POLICY
from services.reporting.routes import router
from services.runtime.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="dondoc — báo cáo (reporting)",
    migrations=Path(__file__).parent / "migrations",
    topics=(TASK_EVENTS, DIRECTORY),
    handlers=handlers.handlers(),
    batch_handler=handlers.batch_handler(),
    # Tasks' partitions side by side: every journal writer locks in one order (adapters.py).
    consumer_concurrency=4,
    # A batch's journal write costs per (scope, day) row, and longer runs share more of them. 2,000 is more than
    # a fetch holds (consumer_batch_size, 1,000), so a partition's share of a fetch is one run, not runs of 500
    # (docs/performance.md, "Round 5"). Reporting is not on the deadline path that shorter runs keep responsive.
    consumer_run_size=2000,
    routers=(router, reorganisations_router, dashboard_router, dashboard_actions),
    background=(keep_live_day, monthly_reports),
    replay=REPLAY_POLICY,
)
