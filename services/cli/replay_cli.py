"""`dondoc replay SERVICE [--apply]`: rebuild a projection from the Kafka log and compare it with the live one.

Exit codes: 0 identical (or, with --apply, the live tables replaced by the rebuilt ones); 1 the live
projection differs from the rebuilt one; 2 refused (unknown service, a source of truth, the service
still running, audit with --apply).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from events.topics import SERVICES
from services.runtime.replay import (
    Applied,
    Comparison,
    Rebuilt,
    ReplayPolicy,
    ReplayRefused,
    apply,
    compare,
    policy_of,
    rebuild,
    running_signs,
)
from services.runtime.service import ServiceDefinition
from services.runtime.settings import Settings

REFUSED = 2


def register(app: typer.Typer) -> None:
    """Add `dondoc replay` to the main app."""
    app.command("replay")(replay)


def replay(
    service: Annotated[
        str, typer.Argument(help="The projection to rebuild: a service whose definition declares a replay policy.")
    ],
    apply_it: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Replace the live tables by the rebuilt ones (the service must be stopped); "
            "the old rows are kept in a backup schema.",
        ),
    ] = False,
    samples: Annotated[int, typer.Option(min=0, help="Differing rows shown per table.")] = 3,
) -> None:
    """Rebuild a service's projection from the Kafka log in a shadow schema and compare it with the live one.

    Exit 0: identical (with --apply: the live tables replaced); 1: the live projection differs; 2: refused.
    """
    from services.registry import definition
    from services.runtime import logs
    from services.runtime.settings import get_settings

    err = Console(stderr=True)
    try:
        defn = definition(service)
    except KeyError as exc:
        err.print(f"[red]unknown service {escape(repr(service))}; {_accepted()}[/]")
        raise typer.Exit(REFUSED) from exc
    try:
        policy = policy_of(defn)
    except ReplayRefused as exc:
        reason = str(exc) if defn.replay_refusal else f"{exc}; {_accepted()}"
        err.print(f"[red]dondoc replay {escape(service)} refused:[/] {escape(reason)}")
        raise typer.Exit(REFUSED) from exc
    settings = get_settings()
    logs.configure("replay", settings.log_level, settings.log_format)
    raise typer.Exit(asyncio.run(run(defn, settings, policy, apply_it=apply_it, samples=samples, err=err)))


def _accepted() -> str:
    """Which services replay accepts, as their definitions declare (this imports every service's composition
    root: done only when a name is refused, not for each `dondoc` command)."""
    from services.registry import definition

    definitions = [definition(name) for name in SERVICES]
    replayable = [d.name for d in definitions if d.replay is not None and not d.replay_refusal]
    refused = [d.name for d in definitions if d.replay_refusal]
    return f"replay accepts: {', '.join(replayable)} ({', '.join(refused)} are sources of truth and cannot be replayed)"


async def run(
    definition: ServiceDefinition,
    settings: Settings,
    policy: ReplayPolicy,
    *,
    apply_it: bool = False,
    samples: int = 3,
    err: Console | None = None,
    out: Console | None = None,
    service_url: str | None = None,
) -> int:
    """The command's work, for a given service definition; returns the exit code."""
    err, out = err or Console(stderr=True), out or Console()
    name = definition.name
    try:
        if apply_it:  # refuse before spending minutes on the replay
            if policy.apply_refusal:
                raise ReplayRefused(policy.apply_refusal)
            if signs := await running_signs(definition, settings, service_url):
                raise ReplayRefused(
                    f"{name} is running ({'; '.join(signs)}). Stop every instance of it, then "
                    "run the replay with --apply again."
                )
        rebuilt = await _rebuild_with_progress(definition, settings, policy, err)
        comparison = await compare(rebuilt, settings, samples=samples)
        _print_comparison(out, rebuilt, comparison)
        if not apply_it:
            return 0 if comparison.identical else 1
        if comparison.identical and not comparison.live_only_events and not comparison.unhandled_by_live:
            out.print("Identical: nothing to apply.")
            return 0
        applied = await apply(rebuilt, definition, settings, service_url=service_url)
        _print_applied(out, rebuilt, applied)
        return 0
    except ReplayRefused as exc:
        err.print(f"[red]dondoc replay {escape(name)}{' --apply' if apply_it else ''} refused:[/] {escape(str(exc))}")
        return REFUSED


async def _rebuild_with_progress(
    definition: ServiceDefinition, settings: Settings, policy: ReplayPolicy, err: Console
) -> Rebuilt:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"Replaying {definition.name}", total=None)
        return await rebuild(
            definition,
            settings,
            policy=policy,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _print_comparison(out: Console, rebuilt: Rebuilt, comparison: Comparison) -> None:
    table = Table(
        title=f"replay of {rebuilt.service}: {rebuilt.records} records read, {rebuilt.handled} events "
        f"handled, {rebuilt.dead_lettered} dead-lettered, in {rebuilt.seconds:.1f} s"
    )
    for column in ("table", "rows live", "rows rebuilt", "missing", "extra", "identical", "notes"):
        table.add_column(column, justify="right" if column.startswith(("rows", "missing", "extra")) else "left")
    for t in comparison.tables:
        notes = [t.problem] if t.problem else []
        if t.ignored:
            notes.append(f"not compared: {', '.join(t.ignored)}")
        table.add_row(
            t.table,
            "—" if t.live_rows is None else str(t.live_rows),
            str(t.rebuilt_rows),
            str(t.missing),
            str(t.extra),
            "[green]yes[/]" if t.identical else "[red]no[/]",
            escape("; ".join(notes)),
        )
    out.print(table)
    out.print(
        "missing: rows the rebuilt projection has and the live one lacks; extra: rows the live one has "
        "that the log does not give."
    )
    for t in comparison.tables:
        for kind, row in t.samples:
            out.print(f"  {t.table} {kind}: {escape(json.dumps(json.loads(row), ensure_ascii=False))}")
    if comparison.note:
        out.print(escape(comparison.note))
    if comparison.live_only_events or comparison.unhandled_by_live:
        out.print(
            f"[yellow]The live service was not at the replay's end offsets:[/] it handled "
            f"{comparison.live_only_events} event(s) the replay did not (read after the end offsets, or no longer "
            f"in the log) and has not handled {comparison.unhandled_by_live} the replay did; differences can come "
            "from that. Compare again once it has caught up (or is stopped)."
        )
    if rebuilt.dead_lettered:
        out.print(
            f"[yellow]{rebuilt.dead_lettered} record(s) could not be handled in the replay:[/] see "
            f"{rebuilt.shadow_schema}.dead_letters (not published to Kafka)."
        )
    out.print(
        f"The rebuilt tables are in schema {rebuilt.shadow_schema} (replaced at the next replay). "
        + ("[green]Identical.[/]" if comparison.identical else "[red]The live projection differs.[/]")
    )


def _print_applied(out: Console, rebuilt: Rebuilt, applied: Applied) -> None:
    live = rebuilt.live_schema
    out.print(f"[green]Applied:[/] {live}.{{{', '.join(applied.tables)}}} now hold the rebuilt rows.")
    out.print(
        f"Consumer group {rebuilt.group} set to the replay's end offsets: "
        + ", ".join(f"{t}[{p}]={o}" for (t, p), o in sorted(applied.offsets.items()))
    )
    if applied.dead_letters_copied:
        out.print(
            f"{applied.dead_letters_copied} dead letter(s) of the replay added to {live}.dead_letters "
            "(they were not published to the dead-letter topic)."
        )
    out.print(
        f"The old rows are kept in schema {applied.backup_schema}, with the group's previous offsets in "
        f"{applied.backup_schema}.group_offsets. To go back: stop the service; in one transaction TRUNCATE those "
        f"tables of {live} and INSERT INTO {live}.<table> SELECT * FROM {applied.backup_schema}.<table>; then "
        f"set the group's offsets back to group_offsets. Start the service: it goes on after the replayed log."
    )
