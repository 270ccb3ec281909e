"""``dondoc bench ingest``, added to the ``dondoc bench`` group by services/cli/main.py."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

RATIO_TARGET = 0.2  # issue 14: every consuming service drains at ≥ 0.2× the raw consume + decode rate
MEASURED = ("progress", "alerts", "reporting", "audit")


def register(bench_app: typer.Typer) -> None:
    bench_app.command("ingest")(bench_ingest)


def bench_ingest(
    events: Annotated[
        int, typer.Option(help="Events published before the services start.", min=100, max=1_000_000)
    ] = 20_000,
    service: Annotated[
        list[str] | None, typer.Option(help=f"Measure only these services (default: {', '.join(MEASURED)}).")
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(help="DONDOC_HOME for the bench's own Kafka and PostgreSQL (default: a fresh temporary one)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
) -> None:
    """Backlog drain rate of every consuming service, against raw aiokafka + decode in the same run."""
    from bench import ingest

    services = tuple(service or MEASURED)
    unknown = [s for s in services if s not in MEASURED]
    if unknown:
        Console(stderr=True).print(
            f"[red]Unknown service {', '.join(unknown)}; measured are: {', '.join(MEASURED)}. "
            f"Dịch vụ không đo được: {', '.join(unknown)}; chọn trong: {', '.join(MEASURED)}.[/]"
        )
        raise typer.Exit(2)
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        current: list[int] = []

        def start(name: str, total: int) -> None:
            if current:
                bar.update(current[0], visible=False)
            current[:] = [bar.add_task(name, total=total or None)]

        def advance(done: int) -> None:
            bar.update(current[0], completed=done)

        result = asyncio.run(ingest.run(events, services, home, ingest.Phase(start, advance)))
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"dondoc bench ingest — {events} events, load average {result.load}")
    for column in (
        "path",
        "events/s",
        "× raw",
        "CPU s service",
        "CPU s PostgreSQL",
        "CPU s Kafka",
        "RSS MB",
        "dead letters",
        f"≥ {RATIO_TARGET}× raw",
    ):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row("raw aiokafka getmany + decode", f"{result.raw_consume_per_s:,.0f}", "1", "", "", "", "", "", "")
    table.add_row(
        "raw asyncpg COPY (same rows)",
        f"{result.raw_copy_per_s:,.0f}",
        f"{result.raw_copy_per_s / result.raw_consume_per_s:.2f}",
        "",
        "",
        "",
        "",
        "",
        "",
    )
    for d in result.drains:
        ratio = d.per_s / result.raw_consume_per_s
        table.add_row(
            d.service,
            f"{d.per_s:,.0f}",
            f"{ratio:.3f}",
            f"{d.cpu_service_s:.1f}",
            f"{d.cpu_postgres_s:.1f}",
            f"{d.cpu_kafka_s:.1f}",
            f"{d.rss_mb:.0f}",
            str(d.dead_letters),
            "[green]met[/]" if ratio >= RATIO_TARGET else "[red]missed[/]",
        )
    if result.replay is not None:
        r = result.replay
        table.add_row(
            "dondoc replay reporting", f"{r.per_s:,.0f}", f"{r.per_s / result.raw_consume_per_s:.3f}",
            "", "", "", "", "", "identical to live" if r.identical else "[red]differs from live[/]",
        )  # fmt: skip
    out = Console() if sys.stdout.isatty() else Console(width=160)  # a file or a pipe: the table unsquashed
    out.print(table)
    out.print(f"  published at {result.publish_per_s:,.0f} events/s (idempotent producer)")
    relay_ratio = result.relay_per_s / result.publish_per_s if result.publish_per_s else 0.0
    out.print(
        f"  outbox relay: {result.relay_per_s:,.0f} events/s, {relay_ratio:.2f}× the idempotent producer "
        f"({'met' if relay_ratio >= 0.5 else 'missed'}: ≥ 0.5×)"
    )
    out.print(
        f"  machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; other work on it moves every figure, compare the ratios"
    )
