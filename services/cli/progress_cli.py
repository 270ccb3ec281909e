"""CLI commands of the progress side (registered on the main `dondoc` app)."""

from __future__ import annotations

import asyncio
import os
import platform
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to `dondoc` (and its benchmarks to `dondoc bench`)."""
    bench_app.command("alerts")(bench_alerts)


def bench_alerts(
    tasks: Annotated[int, typer.Option(help="Open tasks loaded before measuring (timers and alerts).")] = 10_000,
    streams: Annotated[int, typer.Option(help="Open SSE streams, one person each.")] = 100,
    home: Annotated[
        Path | None,
        typer.Option(
            help="DONDOC_HOME for the bench's own Kafka and PostgreSQL "
            "(default: a fresh temporary one, removed afterwards)."
        ),
    ] = None,
    timer_poll_s: Annotated[
        float | None, typer.Option(help="DONDOC_TIMER_POLL_INTERVAL_S of both services (default: theirs).")
    ] = None,
    replicas: Annotated[int, typer.Option(help="Replicas of each service (one consumer group each).")] = 1,
    due_together: Annotated[
        int | None,
        typer.Option(help="Tasks whose deadline passes at the same midnight (default: one per stream)."),
    ] = None,
    backlog: Annotated[
        int,
        typer.Option(
            help="TaskAssigned published just before the deadline passes (a bulk import draining meanwhile).",
            min=0,
            max=1_000_000,
        ),
    ] = 0,
) -> None:
    """Latency to the person's SSE stream: TaskAssigned → alert, and deadline passing → overdue alert."""
    from bench import alerts as bench

    err = Console(stderr=True)
    with err.status("bench: starting Kafka and PostgreSQL…") as status:
        report = asyncio.run(
            bench.run(
                tasks,
                streams,
                home,
                lambda msg: status.update(f"bench: {msg}…"),
                timer_poll_s=timer_poll_s,
                replicas=replicas,
                due_together=due_together,
                backlog=backlog,
            )
        )
    during = f", {backlog} events draining at the deadline" if backlog else ""
    table = Table(title=f"dondoc bench alerts — {tasks} open tasks, {streams} SSE streams{during}")
    for column in ("path", "samples", "p50 ms", "p99 ms", "max ms", "target p99", "verdict"):
        table.add_column(column, justify="left" if column == "path" else "right")
    failed = False
    for result in report.results:
        s = bench.summary(result)
        ok = len(result.latencies_ms) == result.expected and s["p99"] < result.target_ms
        failed |= not ok
        table.add_row(
            result.name,
            f"{len(result.latencies_ms)}/{result.expected}",
            f"{s['p50']:.0f}",
            f"{s['p99']:.0f}",
            f"{s['max']:.0f}",
            f"< {result.target_ms:.0f} ms",
            "[green]met[/]" if ok else "[red]missed[/]",
        )
    console = Console()
    console.print(table)
    for name, fact in report.facts.items():
        console.print(f"  {name}: {fact}")
    console.print(
        f"  machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    raise typer.Exit(1 if failed else 0)
