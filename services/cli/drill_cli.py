"""``dondoc drill …``: fault drills an operator runs before go-live (issue 17; docs/reliability.md).

* ``drill load`` / ``drill check``: against the installation's running stack (``dondoc up``): send a
  realistic mix with known ids, then count what every service holds of it.
* ``drill kill|broker|postgres|soak``: each on a stack of its own (fresh Kafka, PostgreSQL and the five
  services as processes), load + fault + recovery + check, with what was done when.

Exit status: 0 nothing lost or duplicated (and, for ``soak``, memory and lag within bounds); 1 otherwise;
2 a refused option. The drills themselves live in the top-level ``drills`` package (they depend on the
services, never the reverse).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

drill_app = typer.Typer(no_args_is_help=True, help="Fault drills: load, faults, and a count of what was lost.")
out = Console()
err = Console(stderr=True)

EventsOption = Annotated[int, typer.Option(help="Commands the load sends.", min=10, max=10_000_000)]
RateOption = Annotated[float, typer.Option(help="Commands per second.", min=0.1, max=10_000)]
HomeOption = Annotated[
    Path | None,
    typer.Option(help="DONDOC_HOME of the drill's own stack, kept afterwards (default: a temporary one, removed)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")


def _ledger_path(path: Path | None) -> Path:
    from deploy.stack import state_home

    return path or state_home() / "drills" / "last-load.jsonl"


@drill_app.command("load")
def load(
    events: EventsOption = 1000,
    rate: RateOption = 50.0,
    ledger: Annotated[
        Path | None, typer.Option(help="Where to keep what was sent (default: the state folder).")
    ] = None,
) -> None:
    """Send a realistic mix of commands to the running stack (HTTP with tokens, signed intake), with known ids."""
    from drills.load import Load
    from drills.stack import Target, issue_tokens
    from services.runtime.settings import get_settings

    settings = get_settings()
    settings.require_token_secret()
    urls = {name: settings.url_of(name) for name in ("assignment", "progress", "alerts", "reporting", "audit")}

    async def run() -> None:
        tokens = await issue_tokens(settings.database_url, settings.token_secret)
        target = Target(urls, settings.database_url, settings, tokens, settings.token_secret)
        with err.status(f"sending {events} commands at {rate:g}/s…"):
            sent = await Load(target, events, rate).run()
        path = _ledger_path(ledger)
        sent.save(path)
        outcomes: dict[str, int] = {}
        for s in sent.sent:
            outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
        out.print(f"sent {len(sent.sent)} commands in {sent.seconds:.0f}s: {outcomes}; ledger {path}")

    asyncio.run(run())


@drill_app.command("check")
def check_cmd(
    ledger: Annotated[Path | None, typer.Option(help="The load's ledger (default: the last `drill load`).")] = None,
) -> None:
    """Compare what `drill load` sent with what each service holds; exit 1 on any loss or duplicate."""
    from drills.check import check
    from drills.load import Ledger
    from services.runtime.settings import get_settings

    path = _ledger_path(ledger)
    if not path.exists():
        err.print(
            f"[red]No ledger at {path}: run `dondoc drill load` first.\n"
            "Chưa có sổ ghi những gì đã gửi: hãy chạy `dondoc drill load` trước.[/]"
        )
        raise typer.Exit(2)
    settings = get_settings()
    report = asyncio.run(check(Ledger.load(path), settings.database_url, settings))
    out.print(report_table(report))
    raise typer.Exit(0 if report.ok else 1)


def _drill(name: str, events: int, rate: float, home: Path | None, **kw: object) -> None:
    from drills.run import drill

    result = asyncio.run(drill(name, events, rate, home=home, say=lambda line: err.print(line, highlight=False), **kw))  # type: ignore[arg-type]
    out.print(result_table(result))
    out.print(report_table(result.report))
    for problem in result.problems:
        out.print(f"[red]{problem}[/]")
    raise typer.Exit(0 if result.ok else 1)


@drill_app.command("kill")
def kill(
    events: EventsOption = 2000,
    rate: RateOption = 40.0,
    every: Annotated[float, typer.Option(help="Seconds between kills (0: spread over the load).", min=0)] = 0.0,
    home: HomeOption = None,
) -> None:
    """kill -9 of a random service every few seconds (each twice), restarted by the drill; then the count."""
    _drill("kill", events, rate, home, every_s=every)


@drill_app.command("broker")
def broker(
    events: EventsOption = 2000,
    rate: RateOption = 40.0,
    down: Annotated[float, typer.Option(help="Seconds the broker stays down each time.", min=1)] = 15.0,
    home: HomeOption = None,
) -> None:
    """Kafka stopped and started mid-load, then killed with -9 and started; then the count."""
    _drill("broker", events, rate, home, down_s=down)


@drill_app.command("postgres")
def postgres(events: EventsOption = 2000, rate: RateOption = 40.0, home: HomeOption = None) -> None:
    """PostgreSQL restarted mid-load (fast, then immediate); no good event dead-lettered, listeners back."""
    _drill("postgres", events, rate, home)


@drill_app.command("cluster")
def cluster(
    events: EventsOption = 2000,
    rate: RateOption = 40.0,
    down: Annotated[float, typer.Option(help="Seconds the killed leader stays down each time.", min=1)] = 15.0,
    home: HomeOption = None,
) -> None:
    """On a local 3-broker cluster: the partition leader killed with -9 mid-load (twice), then brought back;
    then the count."""
    _drill("cluster", events, rate, home, down_s=down)


@drill_app.command("soak")
def soak(
    rate: RateOption = 40.0,
    minutes: Annotated[float, typer.Option(help="How long the load runs.", min=0.5)] = 30.0,
    home: HomeOption = None,
) -> None:
    """R commands/s for D minutes; RSS, connections, lag sampled every 10 s; fails on RSS growth > 10% after
    warm-up or lag not back to 0."""
    _drill("soak", int(rate * minutes * 60), rate, home, sample=True)


def report_table(report: object) -> Table:
    from drills.check import Report

    assert isinstance(report, Report)
    table = Table(title="Drill check: what was sent, and what each service holds")
    for column in ("service", "what", "sent", "applied", "lost", "duplicated", "dead-lettered"):
        table.add_column(column, justify="left" if column in ("service", "what") else "right")
    for r in report.rows:
        lost = f"[red]{r.lost}[/]" if r.lost else "0"
        dup = f"[red]{r.duplicated}[/]" if r.duplicated else "0"
        table.add_row(r.service, r.what, str(r.sent), str(r.applied), lost, dup, str(r.dead_lettered))
    refused = ", ".join(f"{op} {n}" for op, n in sorted(report.refused.items())) or "none"
    table.caption = (
        f"bad records sent {report.bad_sent}, rejected as they should be {report.bad_rejected}; "
        f"good commands refused (4xx): {refused}; gave up after retries: {report.gave_up}; "
        + "; ".join(f"{k} {v}" for k, v in report.facts.items())
        + (" — [green]OK[/]" if report.ok else " — [red]FAILED[/]")
    )
    return table


def result_table(result: object) -> Table:
    from drills.run import DrillResult

    assert isinstance(result, DrillResult)
    table = Table(title=f"drill {result.name}: {result.events} commands at {result.rate:g}/s")
    table.add_column("fault")
    table.add_column("at", justify="right")
    table.add_column("lasted", justify="right")
    table.add_column("services ready again after", justify="right")
    for f in result.faults:
        table.add_row(
            f.what,
            f"t+{f.started - result.timeline.started:.0f}s",
            f"{f.ended - f.started:.1f}s",
            f"{f.back_after_s:.1f}s",
        )
    table.caption = (
        f"caught up (ready, lag 0, outbox empty) {result.recovery_s:.1f}s after the last fault; "
        f"service restarts {sum(1 for f in result.faults if f.what.startswith('kill -9 ') and 'Kafka' not in f.what)}; "
        f"load average {result.load_average}"
    )
    return table
