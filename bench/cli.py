"""``dondoc bench ingest``, added to the ``dondoc bench`` group by services/cli/main.py."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from bench.ingest import Phase

RATIO_TARGET = 0.2  # issue 14: every consuming service drains at ≥ 0.2× the raw consume + decode rate
MEASURED = ("progress", "alerts", "reporting", "audit")


def register(bench_app: typer.Typer) -> None:
    bench_app.command("ingest")(bench_ingest)
    bench_app.command("replay")(bench_replay)
    bench_app.command("codec")(bench_codec)


@contextmanager
def _phases() -> Iterator[Phase]:
    """A progress bar on stderr for the bench's phases (stdout stays for the result)."""
    from bench.ingest import Phase

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        current: list[int] = []

        def start(name: str, total: int) -> None:
            if current:
                bar.update(current[0], visible=False)
            current[:] = [bar.add_task(name, total=total or None)]

        def advance(done: int) -> None:
            bar.update(current[0], completed=done)

        yield Phase(start, advance)


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
    with _phases() as phase:
        result = asyncio.run(ingest.run(events, services, home, phase))
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


REPLAY_TARGET_S = 180.0  # issue 14: `dondoc replay reporting` over 1,000,000 events in under 3 minutes


def bench_replay(
    events: Annotated[int, typer.Option(help="Events in the log the replay rebuilds from.", min=100, max=2_000_000)] = (
        200_000
    ),
    home: Annotated[
        Path | None,
        typer.Option(help="DONDOC_HOME for the bench's own Kafka and PostgreSQL (default: a fresh temporary one)."),
    ] = None,
    profile: Annotated[
        Path | None, typer.Option(help="Run the replay under cProfile and write its statistics to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the lines.")] = False,
) -> None:
    """`dondoc replay reporting` alone over a log of N events, and what 1,000,000 would take at that rate."""
    from bench import replay

    with _phases() as phase:
        result = asyncio.run(replay.run(events, home, phase, profile))
    per_million = 1_000_000 / result.per_s if result.per_s else float("inf")
    figures = {
        "events": result.events,
        "records": result.records,
        "seconds": round(result.seconds, 1),
        "after_last_record_s": round(result.finish_s, 1),
        "events_per_s": round(result.per_s),
        "seconds_per_million": round(per_million, 1),
        "target_met": per_million < REPLAY_TARGET_S,
        "handled": result.handled,
        "dead_lettered": result.dead_lettered,
        "cpu_replay_s": round(result.cpu_replay_s, 1),
        "cpu_postgres_s": round(result.cpu_postgres_s, 1),
        "load_average_before": result.load_before,
        "load_average_after": result.load_after,
    }
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    out = Console()
    out.print(
        f"dondoc replay reporting: {result.records:,} records in {result.seconds:.1f} s "
        f"= {result.per_s:,.0f} events/s; "
        f"1,000,000 at this rate: {per_million:.0f} s "
        f"({'met' if per_million < REPLAY_TARGET_S else 'missed'}: < {REPLAY_TARGET_S:.0f} s)"
    )
    out.print(
        f"  CPU seconds: replay {result.cpu_replay_s:.1f}, PostgreSQL {result.cpu_postgres_s:.1f}; "
        f"handled {result.handled:,}, dead-lettered {result.dead_lettered}; load average before "
        f"{result.load_before}, after {result.load_after}; {os.cpu_count()} CPUs"
    )


def bench_codec(
    events: Annotated[
        int, typer.Option(help="Events of the ingest mix to encode and decode.", min=100, max=1_000_000)
    ] = 20_000,
    repeats: Annotated[int, typer.Option(help="Passes over them; the fastest counts.", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the lines.")] = False,
) -> None:
    """Decoding and encoding per event (events/codec.py) over the ingest mix, beside plain json.loads/dumps."""
    from bench import codec
    from bench.ingest import load_average

    result = codec.run(events, repeats)
    figures = {
        "events": result.events,
        "decode_per_s": round(result.decode_per_s),
        "encode_per_s": round(result.encode_per_s),
        "json_loads_per_s": round(result.json_loads_per_s),
        "json_dumps_per_s": round(result.json_dumps_per_s),
        "decode_vs_json_loads": round(result.decode_ratio, 3),
        "encode_vs_json_dumps": round(result.encode_ratio, 3),
        "span_ids_per_s": round(result.span_ids_per_s),
        "load_average": load_average(),
        "mix": result.mix,
    }
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    out = Console()
    out.print(
        f"dondoc bench codec: {result.events:,} events, best of {repeats} passes (CPU time of this process)\n"
        f"  decode  {result.decode_per_s:>10,.0f} events/s = {1e6 / result.decode_per_s:6.1f} µs each; "
        f"{result.decode_ratio:.3f}× plain json.loads ({result.json_loads_per_s:,.0f}/s)\n"
        f"  encode  {result.encode_per_s:>10,.0f} events/s = {1e6 / result.encode_per_s:6.1f} µs each; "
        f"{result.encode_ratio:.3f}× plain json.dumps ({result.json_dumps_per_s:,.0f}/s)\n"
        f"  span id {result.span_ids_per_s:>10,.0f} /s (tracing.child_of)\n"
        f"  load average {figures['load_average']}; {os.cpu_count()} CPUs",
        soft_wrap=True,
    )
