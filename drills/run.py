"""One drill: its own stack, the load, a fault beside it, recovery, then the check.

``drill(name, …)`` is what ``dondoc drill NAME`` and the CI tests run. The fault is looked up in
``drills.faults.FAULTS``; everything else is the same for every drill.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drills.check import Report, check
from drills.faults import BROKERS, FAULTS, Fault, Plan
from drills.load import Ledger, Load
from drills.stack import DrillStack, Timeline, drill_stack, until_caught_up
from services.runtime.settings import Settings

SAMPLE_EVERY_S = 10.0
RSS_GROWTH_LIMIT = 0.10  # soak: more than this after warm-up fails the drill


@dataclass
class Sample:
    at_s: float
    rss_mb: dict[str, float]
    connections: dict[str, int]
    lag: int
    loop_lag_s: dict[str, float]


@dataclass
class DrillResult:
    name: str
    events: int
    rate: float
    ledger: Ledger
    report: Report
    faults: list[Fault]
    recovery_s: float  # from the last fault's end (or the load's end) until nothing is behind
    timeline: Timeline
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a soak's verdicts, a fault that did not heal
    load_average: str = ""

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.problems


async def drill(
    name: str,
    events: int,
    rate: float,
    *,
    home: Path | None = None,
    say: Callable[[str], None] = print,
    sample: bool = False,
    **plan: Any,
) -> DrillResult:
    """``plan``: fields of ``drills.faults.Plan`` (every_s, down_s, kills_per_service, broker_faults…)."""
    from services.runtime import logs

    # The drill's own Kafka clients (the load's intake producer, the lag probes) complain while the broker
    # is down on purpose: warnings only, each kind of complaint summarised once a minute.
    logs.configure("drill", "WARNING", "console")
    inject = FAULTS[name]
    async with drill_stack(home, say, BROKERS.get(name, 1)) as (stack, target):
        timeline = Timeline(say=say)
        timeline.note(f"stack ready; load of {events} commands at {rate:g}/s begins, fault: {name}")
        load = Load(target, events, rate)
        faults_plan = Plan(seconds=events / rate, **plan)
        samples: list[Sample] = []
        sampler = asyncio.create_task(_sample(stack, samples, timeline)) if sample else None
        load_task = asyncio.create_task(load.run())
        problems: list[str] = []
        try:
            faults = await inject(stack, timeline, faults_plan)
        except (TimeoutError, AssertionError, RuntimeError) as exc:  # did not heal: say so, still count
            timeline.note(f"the drill's fault did not heal: {exc}")
            problems.append(str(exc))
            faults = []
        ledger = await load_task
        timeline.note(f"load done: {len(ledger.sent)} commands in {ledger.seconds:.0f}s")
        since = max([f.ended for f in faults], default=time.monotonic())
        try:
            recovery = await until_caught_up(stack, timeline, since=since)
            timeline.note(
                f"caught up: all ready, no consumer lag, no outbox backlog, {recovery:.1f}s after the last fault"
            )
        except TimeoutError as exc:
            recovery = float("nan")
            problems.append(str(exc))
        if sampler is not None:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            problems += soak_verdict(samples)
        ledger.save(stack.home / "ledger.jsonl")
        report = await check(ledger, target.database_url, Settings())
        report.facts.update(notable_log_lines(stack.logs))
        return DrillResult(
            name, events, rate, ledger, report, faults, recovery, timeline, samples, problems,
            " ".join(f"{x:.2f}" for x in os.getloadavg()),
        )  # fmt: skip


async def _sample(stack: DrillStack, samples: list[Sample], timeline: Timeline) -> None:
    while True:
        try:
            lag = await stack.lag()
        except Exception:
            lag = -1
        s = Sample(
            time.monotonic() - timeline.started,
            stack.rss_mb(),
            stack.connections(),
            lag,
            await _loop_lag(stack),
        )
        samples.append(s)
        rss = sum(s.rss_mb.values())
        timeline.note(f"sample: RSS {rss:.0f} MB, TCP connections {sum(s.connections.values())}, lag {lag}")
        await asyncio.sleep(SAMPLE_EVERY_S)


_LOOP_LAG = re.compile(r"^dondoc_event_loop_lag_seconds(?:\{[^}]*\})? ([0-9.eE+-]+)$", re.MULTILINE)


async def _loop_lag(stack: DrillStack) -> dict[str, float]:
    """Each service's event-loop lag from its /metrics, where it publishes one (the observability work)."""
    out = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        for name, url in stack.urls.items():
            try:
                found = _LOOP_LAG.findall((await client.get(f"{url}/metrics")).text)
            except httpx.HTTPError:
                continue
            if found:
                out[name] = max(float(v) for v in found)
    return out


def soak_verdict(samples: list[Sample]) -> list[str]:
    """RSS may not grow more than 10% after warm-up (the first fifth of the samples, at least one)."""
    if len(samples) < 3:
        return ["too few samples for a soak verdict (run it for a few minutes at least)"]
    warm = samples[max(1, len(samples) // 5)]
    last = samples[-1]
    problems = []
    for service, mb in warm.rss_mb.items():
        now = last.rss_mb.get(service)
        if now is not None and now > mb * (1 + RSS_GROWTH_LIMIT):
            problems.append(f"{service}: RSS grew from {mb:.0f} MB to {now:.0f} MB after warm-up (> 10%)")
    return problems


# What the services' logs say happened that an operator wants counted after a drill.
NOTABLE = {
    "producers replaced (relay, dead letters)": "producer replaced after a fatal error",
    "background tasks crashed": "background task crashed",
    "events dead-lettered": "dead-lettering",
    "listener connections lost": "listener lost its connection",
}


def notable_log_lines(logs: Path) -> dict[str, int]:
    counts = dict.fromkeys(NOTABLE, 0)
    for path in logs.glob("*.log"):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                for what, marker in NOTABLE.items():
                    if marker in line:
                        counts[what] += 1
    return counts
