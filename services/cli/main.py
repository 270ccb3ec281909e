"""The ``dondoc`` command line (DESIGN §6)."""

from __future__ import annotations

import json
import os
import sys
from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from events.topics import SERVICES

app = typer.Typer(no_args_is_help=True, help="dondoc — theo dõi, đôn đốc nhiệm vụ (task follow-up).")
infra_app = typer.Typer(no_args_is_help=True, help="Local Kafka and PostgreSQL.")
contracts_app = typer.Typer(no_args_is_help=True, help="JSON Schema and AsyncAPI documents of the events.")
deadline_app = typer.Typer(no_args_is_help=True, help="Vietnamese deadline text.")
app.add_typer(infra_app, name="infra")
app.add_typer(contracts_app, name="contracts")
app.add_typer(deadline_app, name="deadline")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks of the speed and memory goals.")
app.add_typer(bench_app, name="bench")

console = Console(stderr=True)


@app.callback()
def _installation(ctx: typer.Context) -> None:
    """Every command of one local installation signs and checks agency tokens with the same secret:
    DONDOC_TOKEN_SECRET, else the one kept in the state folder (made on first use). Not `dondoc service`:
    that is how a deployment runs a service, and a secret made in its container would be its own, shared
    with no other service; it refuses to start without DONDOC_TOKEN_SECRET (`dondoc up` passes one)."""
    if "DONDOC_TOKEN_SECRET" not in os.environ and ctx.invoked_subcommand != "service":
        from deploy.stack import token_secret

        os.environ["DONDOC_TOKEN_SECRET"] = token_secret()
    # The operator's commands (replay, kafka credentials, benches) act as the installation's Kafka admin
    # unless DONDOC_KAFKA_USERNAME says who else; services never do (see `service`).
    if "DONDOC_KAFKA_USERNAME" not in os.environ:
        from deploy.credentials import principal_env
        from events.kafka_access import ADMIN_PRINCIPAL

        os.environ.update(principal_env(ADMIN_PRINCIPAL))
    _local_database(with_audit_key=ctx.invoked_subcommand != "service")


def _local_database(*, with_audit_key: bool) -> None:
    """With no external server, the local one's URLs (each role's password is the installation's) and, for
    the inspector's commands, the audit chain's key made once per installation. Never a key for `dondoc
    service`: made in a deployment's container it would be that container's own; the audit service refuses
    to start without DONDOC_AUDIT_KEY (`dondoc up` passes one)."""
    from deploy.stack import audit_key, external_database, local_postgres

    if external_database():
        return
    pg = local_postgres()
    if pg.passwords_file.exists():
        os.environ.setdefault("DONDOC_DATABASE_URL", pg.url)
        os.environ.setdefault("DONDOC_AUDIT_DATABASE_URL", pg.audit_url)
    if with_audit_key:
        os.environ.setdefault("DONDOC_AUDIT_KEY", audit_key())


@infra_app.command("up")
def infra_up(
    brokers: int = typer.Option(
        1, "--brokers", help="Kafka brokers: 1 (one node), or 3 or more for a local cluster (replication 3, "
        "min.insync.replicas=2) that survives the loss of one broker.", min=1, max=9,
    ),
) -> None:  # fmt: skip
    """Start Kafka (KRaft), PostgreSQL and the identity provider, create the topics; reuses data and caches."""
    from deploy import stack
    from deploy.errors import InfraError
    from services.runtime.settings import get_settings

    with console.status("Starting Kafka and PostgreSQL…") as status:
        try:
            endpoints = stack.infra_up(on_progress=lambda msg: status.update(msg), brokers=brokers)
        except InfraError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from exc
        dashboard = f"{get_settings().url_of('reporting')}/"
        people = stack.identity_up([dashboard], on_progress=lambda msg: status.update(msg))
    database = stack.redact(endpoints.database_url)
    console.print(f"[green]Kafka[/] {endpoints.kafka_bootstrap}   [green]PostgreSQL[/] {database}")
    console.print(f"[green]Identity provider[/] {people.issuer}")


@infra_app.command("down")
def infra_down() -> None:
    """Stop the local Kafka, PostgreSQL and identity provider (data is kept)."""
    from deploy import stack

    stack.infra_down()
    console.print("stopped")


@infra_app.command("status")
def infra_status() -> None:
    from deploy import stack

    status = stack.infra_status()
    table = Table("component", "state", "details")
    for name, info in status.items():
        running = info.get("running") if isinstance(info, dict) else info
        table.add_row(name, "[green]running[/]" if running else "[red]stopped[/]", json.dumps(info, default=str))
    Console().print(table)


@app.command("service")
def service(name: str = typer.Argument(..., help=f"One of: {', '.join(SERVICES)}")) -> None:
    """Run one service (HTTP + Kafka consumer) in the foreground."""
    import uvicorn

    from services.registry import definition
    from services.runtime.service import create_app
    from services.runtime.settings import MissingSecret, get_settings

    try:
        defn = definition(name)
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/]")
        raise typer.Exit(2) from exc
    from deploy.credentials import service_env
    from events.kafka_access import ADMIN_PRINCIPAL

    if os.environ.get("DONDOC_KAFKA_USERNAME") == ADMIN_PRINCIPAL:
        # A service never runs as the super-user: it gets its own principal of this installation.
        os.environ.update(service_env(name))
        get_settings.cache_clear()
    settings = get_settings()
    try:
        app = create_app(defn, settings)
    except MissingSecret as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port_of(name),
        log_level="warning",
        # Open SSE streams never end by themselves: after this, they are cut (clients resume with
        # Last-Event-ID) and the lifespan's own stop runs — consumer batch, background work, relay drain.
        timeout_graceful_shutdown=GRACEFUL_HTTP_S,
    )


GRACEFUL_HTTP_S = 5
"""How long a stopping service lets HTTP requests finish; see services/cli/stack.py STOP_BUDGET_S."""


@app.command("up")
def up(
    demo: bool = typer.Option(False, "--demo", help="Load the seeds' scenario (131/NQ-CP)."),
    demo_day: str = typer.Option(
        "2023-02-15",
        help="With --demo: the day the stack lives on (its clock is moved there, so the tasks "
        "of 131/NQ-CP are in flight: some overdue, some within deadline); 'today' keeps the real date.",
    ),
) -> None:
    """Start everything: Kafka, PostgreSQL and the five services. Ctrl-C stops it all."""
    from services.cli.stack import run_stack

    day: date | None = None
    if demo and demo_day != "today":
        try:
            day = date.fromisoformat(demo_day)
        except ValueError as exc:
            console.print(f"[red]--demo-day {demo_day!r} is not a date; use YYYY-MM-DD or 'today'[/]")
            raise typer.Exit(2) from exc
    raise typer.Exit(run_stack(console, demo=demo, demo_day=day))


@contracts_app.command("export")
def contracts_export(
    check: bool = typer.Option(False, "--check", help="Only compare; exit 1 if contracts/ is out of date."),
    allow_breaking: bool = typer.Option(False, help="Overwrite a published version even if incompatible."),
) -> None:
    """Write contracts/ from the event models."""
    from events import contracts

    if check:
        stale = [
            rel
            for rel, content in contracts.generate().items()
            if not (contracts.CONTRACTS_DIR / rel).exists()
            or (contracts.CONTRACTS_DIR / rel).read_text(encoding="utf-8") != content
        ]
        for rel in stale:
            console.print(f"[red]out of date:[/] contracts/{rel}")
        raise typer.Exit(1 if stale else 0)
    try:
        written = contracts.export(allow_breaking=allow_breaking)
    except contracts.BreakingChange as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    for rel in written:
        console.print(f"wrote contracts/{rel}")
    if not written:
        console.print("contracts/ is up to date")


@deadline_app.command("parse")
def deadline_parse(
    text: str = typer.Argument(..., help="e.g. 'Quý I năm 2023', 'Trước ngày 15/9/2023'"),
    issued: str = typer.Option(..., "--issued", help="The document's date, YYYY-MM-DD"),
) -> None:
    """Parse a Vietnamese deadline and print it as JSON."""
    from events.deadlines import DeadlineParseError, parse_deadline

    try:
        issued_on = date.fromisoformat(issued)
    except ValueError as exc:
        console.print(f"[red]--issued {issued!r} is not a date; use YYYY-MM-DD, e.g. 2022-10-06[/]")
        raise typer.Exit(2) from exc
    try:
        deadline = parse_deadline(text, issued_on)
    except DeadlineParseError as exc:
        # Vietnamese for the officer, then the English reason and the accepted forms.
        from rich.markup import escape  # the text is the user's: "[" in it is not markup

        console.print(f"[red]{escape(exc.message_vi)}[/]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc
    sys.stdout.write(deadline.model_dump_json(indent=2) + "\n")


def _register_areas() -> None:
    from services.cli import alerts_cli, assignment_cli, progress_cli, reporting_cli
    from services.cli.audit_cli import audit_app

    app.add_typer(audit_app, name="audit")

    for area in (assignment_cli, progress_cli, reporting_cli, alerts_cli):
        area.register(app, bench_app)

    from services.cli import drill_cli, kafka_cli, replay_cli

    replay_cli.register(app)
    kafka_cli.register(app)
    drill_cli.register(app)  # the drills themselves are in the top-level drills package, like bench

    # The benchmarks' own package: only the command line reaches into it, no service does.
    from bench import cli as bench_cli

    bench_cli.register(bench_app)


_register_areas()

if __name__ == "__main__":
    app()
