"""The reporting service as the benchmark runs it: its HTTP side only, no consumer and no background
tasks, so nothing but the measured requests touches the seeded bench database. Its clock stands at
the moment the data was seeded for (``DONDOC_BENCH_NOW``), so "now" has tasks within their deadline."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime

import uvicorn

from events.clock import ManualClock
from services.reporting.bootstrap import DEFINITION
from services.runtime.service import create_app
from services.runtime.settings import get_settings


def main() -> None:
    settings = get_settings()
    definition = dataclasses.replace(DEFINITION, topics=(), handlers={}, background=())
    clock = ManualClock(datetime.fromisoformat(os.environ["DONDOC_BENCH_NOW"]))
    uvicorn.run(
        create_app(definition, settings, clock),
        host=settings.http_host,
        port=settings.port_of("reporting"),
        log_level="warning",
    )


if __name__ == "__main__":
    main()
