"""``dondoc bench replay``: ``dondoc replay reporting`` alone, over a log of N events (issue 14: 1,000,000
in under 3 minutes).

On the bench's own Kafka and PostgreSQL (``bench.alerts.isolated_infra``): the backlog of
``dondoc bench ingest`` (``bench.mix``) is published, then the replay rebuilds reporting's shadow schema
from it, timed as ``Rebuilt.seconds`` (from the shadow's creation to the last record applied). No
service runs meanwhile: the log is all there when the replay starts, as in a real rebuild. With
``profile``, the replay runs under cProfile and its statistics are written to that file.
"""

from __future__ import annotations

import cProfile
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.alerts import isolated_infra
from bench.ingest import Phase, _Cpu, _publish, load_average
from bench.mix import backlog
from deploy import stack


@dataclass
class ReplayRun:
    events: int
    records: int
    seconds: float
    handled: int
    dead_lettered: int
    publish_per_s: float
    load_before: str
    load_after: str
    cpu_replay_s: float = 0.0  # this process (reading, decoding, the handlers)
    cpu_postgres_s: float = 0.0  # PostgreSQL's (all its processes)
    finish_s: float = 0.0  # of ``seconds``: after the last record (indexes built, journal summed)

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def run(events: int, home: Path | None, phase: Phase, profile: Path | None = None) -> ReplayRun:
    from services.registry import definition
    from services.runtime import logs
    from services.runtime.replay.rebuilding import rebuild

    logs.configure("bench", "WARNING", "console")
    phase.start("starting Kafka and PostgreSQL", 0)
    with isolated_infra(home) as (bootstrap, database_url, _):
        settings = stack.kafka_admin(bootstrap).model_copy(update={"database_url": database_url})
        publish_per_s = await _publish(settings, backlog(events), phase)
        load_before = load_average()
        phase.start("replay reporting", events)
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        postgres = _Cpu(stack.local_postgres().pid())
        cpu0 = (_own_cpu(), postgres.seconds())
        started = time.perf_counter()
        rebuilt = await rebuild(definition("reporting"), settings, on_progress=lambda done, _: phase.advance(done))
        seconds = time.perf_counter() - started
        cpu1 = (_own_cpu(), postgres.seconds())
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        return ReplayRun(
            events,
            rebuilt.records,
            seconds,
            rebuilt.handled,
            rebuilt.dead_lettered,
            publish_per_s,
            load_before,
            load_average(),
            cpu1[0] - cpu0[0],
            cpu1[1] - cpu0[1],
            rebuilt.finish_seconds,
        )


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system
