"""CLI commands of the assignment side (registered on the main `dondoc` app).

They run on the server and work on the assignment schema directly, through the same handlers as the
HTTP API (same rules, same outbox): `token issue|revoke|list`, `import FILE`, `directory load|show|
agency|person|match|reorganise`. The running service publishes what they write as soon as it commits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from events.limits import HTTP_BODY_MAX_BYTES
from events.tasks import SourceDocument
from services.assignment.errors import Rejected

T = TypeVar("T")
err = Console(stderr=True)
out = Console()

token_app = typer.Typer(no_args_is_help=True, help="Agency API tokens (stored hashed) and intake keys.")
directory_app = typer.Typer(no_args_is_help=True, help="The directory of agencies and people.")


def _database_url() -> str:
    from deploy.stack import database_url  # imported when used: the command line starts fast

    return database_url()


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to `dondoc` (and its benchmarks to `dondoc bench`)."""
    app.add_typer(token_app, name="token")
    app.add_typer(directory_app, name="directory")
    app.command("import")(import_tasks)
    bench_app.command("import")(bench_import)


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async command; a refusal or an unreachable database ends it with a clear message."""
    import asyncpg

    try:
        return asyncio.run(work())
    except Rejected as exc:
        err.print(f"[red]{exc.message_vi}[/]\n[dim]{exc.code}: {exc.message_en}[/]")
        raise typer.Exit(1) from exc
    except (OSError, asyncpg.CannotConnectNowError) as exc:
        err.print(
            f"[red]Cannot reach PostgreSQL ({exc}).[/] Start it with `dondoc infra up` or set "
            f"DONDOC_DATABASE_URL (now {_database_url()})."
        )
        raise typer.Exit(2) from exc


def _clock() -> Any:
    from services.runtime.service import default_clock
    from services.runtime.settings import get_settings

    return default_clock(get_settings())


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(f"[red]{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2022-10-06[/]")
        raise typer.Exit(2) from None


# ---------------------------------------------------------------------------------------- tokens


@token_app.command("issue")
def token_issue(
    agency_id: str = typer.Argument(..., help="e.g. ubnd-bd"),
    label: str = typer.Option("", help="What the token is for, e.g. 'hệ thống QLVB của Sở'"),
    as_json: bool = typer.Option(False, "--json", help="Also print the token id and the intake signing key."),
    days: int | None = typer.Option(
        None, "--days", min=1, max=3650, help="How long the token works (default: DONDOC_TOKEN_TTL_DAYS, 90)"
    ),
) -> None:
    """Issue an API token for an agency; only its hash is stored. Prints the token. It expires (default
    after 90 days, DONDOC_TOKEN_TTL_DAYS): issue a new one before then."""
    from services.assignment.provision import assignment_db, issue
    from services.runtime.settings import get_settings

    settings = get_settings()
    ttl = timedelta(days=days or settings.token_ttl_days)

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool:
            return await issue(pool, _clock(), agency_id, settings.token_secret, label, ttl)

    issued = _run(work)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "agency_id": issued.agency_id,
                    "token_id": issued.token_id,
                    "token": issued.token,
                    "intake_key_id": issued.token_id,
                    "intake_key": issued.intake_key,
                    "expires_at": issued.expires_at.isoformat(),
                },
                indent=2,
            )
            + "\n"
        )
    else:
        sys.stdout.write(issued.token + "\n")
    err.print(
        f"Token {issued.token_id} for {agency_id}: use it as 'Authorization: Bearer <token>'. "
        f"It expires at {issued.expires_at:%Y-%m-%d %H:%M %Z} (hết hạn lúc {issued.expires_at:%d/%m/%Y %H:%M}); "
        "issue a new one before then. It is shown once; only its hash is kept."
    )


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="The token id shown by `token list`")) -> None:
    """Revoke a token (and its intake key): refused by the assignment service from now on, by the other
    services as soon as they read the TokenRevoked it publishes (typically within a second)."""
    from services.assignment.provision import assignment_db, revoke

    async def work() -> bool:
        async with assignment_db(_database_url()) as pool:
            return await revoke(pool, _clock(), token_id)

    if not _run(work):
        err.print(f"[yellow]No live token {token_id}[/]")
        raise typer.Exit(1)
    err.print(
        f"Token {token_id} revoked. The other services refuse it once they read the TokenRevoked event, "
        "which the assignment service publishes as soon as it is running."
    )


@token_app.command("list")
def token_list(agency_id: str) -> None:
    """The tokens of an agency (ids and dates, never the tokens)."""
    from services.assignment.provision import assignment_db
    from services.assignment.tokens import ListedToken, tokens_of

    async def work() -> list[ListedToken]:
        async with assignment_db(_database_url()) as pool:
            return await tokens_of(pool, agency_id)

    table = Table("token id", "label", "issued", "revoked", title=f"Tokens of {agency_id}")
    for t in _run(work):
        table.add_row(
            t.token_id,
            t.label,
            f"{t.issued_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


# ---------------------------------------------------------------------------------------- import


def import_tasks(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A task list (tsv, csv, xlsx, docx)")],
    document: str = typer.Option(..., "--document", help="Source document number, e.g. 131/NQ-CP"),
    issued: str = typer.Option(..., "--issued", help="Its date, YYYY-MM-DD"),
    assigned_by: str = typer.Option(..., "--assigned-by", help="The assigning agency id, e.g. ubnd-bd"),
    issuer: str = typer.Option("", help="Who issued the document (default: the assigning agency's name)"),
    letter: str = typer.Option("", help="The letter the list is attached to, e.g. 6958/UBND-KSTT"),
    letter_date: str = typer.Option("", help="Its date (deadlines are read as of it), YYYY-MM-DD"),
    code_prefix: str = typer.Option("", help="Codes are '<prefix>#<STT>' (default <document>/<ASSIGNER>)"),
    classification: str = typer.Option("cong-khai", help="cong-khai | noi-bo | mat"),
    key_task: bool = typer.Option(False, "--key-task", help="Flag every task as key (trọng tâm)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and match only; assign nothing"),
) -> None:
    """Import a task list like the Danh mục: one row, one task per lead agency; every row reported."""
    from services.assignment.importing.plan import ImportOptions

    issued_on = _date(issued, "--issued")
    letter_on = _date(letter_date, "--letter-date") if letter else None
    if classification not in ("cong-khai", "noi-bo", "mat"):
        err.print("[red]--classification is one of cong-khai, noi-bo, mat[/]")
        raise typer.Exit(2)

    # An empty issuer is filled with the assigning agency's name once it is read from the directory.
    options = ImportOptions(
        document=SourceDocument(number=document, issued_on=issued_on, issuer=issuer),
        letter=SourceDocument(number=letter, issued_on=letter_on, issuer="") if letter_on else None,
        assigned_by=assigned_by,
        code_prefix=code_prefix,
        classification=classification,  # type: ignore[arg-type]
        key_task=key_task,
    )

    async def work() -> Any:
        from services.assignment.importing.console import run_import
        from services.assignment.provision import assignment_db

        async with assignment_db(_database_url()) as pool:
            return await run_import(pool, _clock(), file, options, console=out, progress_console=err, dry_run=dry_run)

    if not _run(work).complete:
        raise typer.Exit(1)


def bench_import(copies: int = typer.Option(100, help="How many copies of the Danh mục's 17 rows")) -> None:
    """Reading and matching speed of the importer (no database): rows per second."""
    from services.assignment.directory.tree import Directory
    from services.assignment.importing.plan import ImportOptions, plan_rows
    from services.assignment.importing.table import read_file
    from services.assignment.provision import SEED_DANH_MUC, read_directory

    directory = Directory.of(read_directory())
    rows = read_file(SEED_DANH_MUC).rows * copies
    resolution = SourceDocument(number="131/NQ-CP", issued_on=date(2022, 10, 6), issuer="Chính phủ")
    options = ImportOptions(resolution, assigned_by="ubnd-bd")
    started = time.perf_counter()
    planned = plan_rows(rows, directory, options)
    elapsed = time.perf_counter() - started
    out.print(f"{len(planned)} rows planned in {elapsed:.3f}s: {len(planned) / elapsed:,.0f} rows/s")


# ---------------------------------------------------------------------------------------- directory


@directory_app.command("load")
def directory_load(
    file: Annotated[Path | None, typer.Argument(help="A directory JSON (default: the demo seed)")] = None,
) -> None:
    """Load a whole directory; only what changed is stored and published on dondoc.directory."""
    from services.assignment.provision import SEED_DIRECTORY, assignment_db, load_directory

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool:
            return await load_directory(pool, _clock(), file or SEED_DIRECTORY)

    counts = _run(work)
    table = Table("kind", "changed", "unchanged", title="Directory loaded")
    for kind in ("agency", "group", "person"):
        table.add_row(kind, str(counts.get(f"{kind} changed", 0)), str(counts.get(f"{kind} unchanged", 0)))
    out.print(table)


@directory_app.command("show")
def directory_show(agency_id: str, depth: int = typer.Option(2, help="Levels below the agency")) -> None:
    """An agency, its people and the agencies under it."""
    from services.assignment.directory import adapters
    from services.assignment.provision import assignment_db

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool:
            return await adapters.load(pool)

    directory = _run(work)
    if agency_id not in directory.agencies:
        err.print(f"[red]Không có cơ quan {agency_id!r} trong danh bạ[/]")
        raise typer.Exit(1)

    def node(tree: Tree, aid: str, level: int) -> None:
        agency = directory.agencies[aid]
        head = next(
            (p for p in directory.people.values() if p.agency_id == aid and p.role == "head" and p.active), None
        )
        label = f"[bold]{agency.name}[/] [dim]{aid} · {agency.level}[/]"
        label += f" — {head.full_name}, {head.title}" if head else ""
        if not agency.active and agency.successor_id:
            label += f" [dim](không còn hoạt động; cơ quan kế thừa: {agency.successor_id})[/]"
        branch = tree.add(label if agency.active else f"[strike]{label}[/]")
        if level < depth:
            for child in (a for a in directory.agencies.values() if a.parent_id == aid):
                node(branch, child.agency_id, level + 1)

    root = Tree("Danh bạ")
    node(root, agency_id, 0)
    out.print(root)


@directory_app.command("agency")
def directory_agency(
    agency_id: str,
    name: str = typer.Option(None),
    level: str = typer.Option(None),
    parent: str = typer.Option(None),
    short_name: str = typer.Option(None),
    alias: Annotated[list[str] | None, typer.Option(help="Replaces the aliases")] = None,
    can_assign_to: Annotated[list[str] | None, typer.Option(help="Replaces the list")] = None,
    tracking_office: bool = typer.Option(None, "--tracking-office/--no-tracking-office"),
    active: bool = typer.Option(None, "--active/--inactive"),
    successor: str = typer.Option(None),
) -> None:
    """Create an agency, or change the given fields of one (published as AgencyChanged)."""
    from services.assignment.directory import adapters, handlers
    from services.assignment.directory.model import AgencyRecord

    given = {
        "name": name,
        "level": level,
        "parent_id": parent,
        "short_name": short_name,
        "aliases": alias,
        "can_assign_to": can_assign_to,
        "tracking_office": tracking_office,
        "active": active,
        "successor_id": successor,
    }

    async def current(pool: Any) -> dict[str, Any]:
        found = (await adapters.agencies(pool, [agency_id])).get(agency_id)
        return found.model_dump() if found else {"agency_id": agency_id}

    _change(lambda fields: AgencyRecord.model_validate(fields), current, given, handlers.set_agency)


@directory_app.command("person")
def directory_person(
    person_id: str,
    agency: str = typer.Option(None),
    full_name: str = typer.Option(None, "--name"),
    role: str = typer.Option(None, help="head | deputy | officer"),
    title: str = typer.Option(None),
    email: str = typer.Option(None),
    active: bool = typer.Option(None, "--active/--inactive"),
) -> None:
    """Create a person, or change the given fields (published as PersonChanged)."""
    from services.assignment.directory import adapters, handlers
    from services.assignment.directory.model import PersonRecord

    given = {
        "agency_id": agency,
        "full_name": full_name,
        "role": role,
        "title": title,
        "email": email,
        "active": active,
    }

    async def current(pool: Any) -> dict[str, Any]:
        found = await adapters.person(pool, person_id)
        return found.model_dump() if found else {"person_id": person_id}

    _change(lambda fields: PersonRecord.model_validate(fields), current, given, handlers.set_person)


def _change(
    build: Callable[[dict[str, Any]], Any],
    current: Callable[[Any], Awaitable[dict[str, Any]]],
    given: dict[str, Any],
    apply: Callable[..., Awaitable[Any]],
) -> None:
    from pydantic import ValidationError

    from services.assignment.provision import OPERATOR, assignment_db, unit_of_work

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool:
            fields = {**await current(pool), **{k: v for k, v in given.items() if v is not None}}
            try:
                record = build(fields)
            except ValidationError as exc:
                raise Rejected("invalid-record", str(exc), f"Thông tin chưa hợp lệ: {exc}") from exc
            async with unit_of_work(pool, _clock()) as uow:
                return await apply(record, uow, OPERATOR)

    change = _run(work)
    err.print(
        f"{change.kind} {change.ident}: " + (f"saved, version {change.version}" if change.changed else "unchanged")
    )


@directory_app.command("match")
def directory_match(text: str = typer.Argument(..., help="A cell of a task list")) -> None:
    """How the importer reads agency names in a cell."""
    from services.assignment.directory import adapters
    from services.assignment.provision import assignment_db

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool:
            return await adapters.load(pool)

    directory = _run(work)
    table = Table("text", "matches", "suggestions")
    for m in directory.names.mentions(text):
        table.add_row(
            m.text, ", ".join(f"{n.kind}:{n.ident}" for n in sorted(m.found)) or "[red]—[/]", ", ".join(m.suggestions)
        )
    out.print(table)


REORGANISATION_FILE_MAX_BYTES = HTTP_BODY_MAX_BYTES
"""A decision file is the HTTP body: the same limit."""


@directory_app.command("reorganise")
def directory_reorganise(
    reorganisation_id: str = typer.Argument(..., help="An id for this decision, e.g. nq-202-2025-qh15"),
    file: Annotated[Path | None, typer.Option(help="The decision as JSON (the body of the HTTP PUT)")] = None,
    kind: str = typer.Option("merge", help="merge | split | abolish"),
    decision: str = typer.Option(None, help="Số hiệu of the decision, e.g. 202/2025/QH15"),
    issued: str = typer.Option(None, help="Its date, YYYY-MM-DD"),
    issuer: str = typer.Option(None, help="Who issued it, e.g. Quốc hội"),
    effective: str = typer.Option(None, help="The day the successors take over, YYYY-MM-DD (default: issued)"),
    agency: Annotated[
        list[str] | None,
        typer.Option(help="OLD=SUCCESSOR[,OTHER…]: the first successor takes every task no --share names"),
    ] = None,
    share: Annotated[list[str] | None, typer.Option(help="A split: OLD:TASK_ID=SUCCESSOR")] = None,
) -> None:
    """Apply a reorganisation decision: abolished agencies name their successor and their open tasks move."""
    from pydantic import ValidationError

    from services.assignment.directory.reorganisation import ReorganisationFields
    from services.assignment.directory.reorganise import reorganise
    from services.assignment.provision import OPERATOR, assignment_db, unit_of_work

    try:
        if file is not None:
            if file.stat().st_size > REORGANISATION_FILE_MAX_BYTES:
                raise Rejected(
                    "file-too-large",
                    f"{file} is over {REORGANISATION_FILE_MAX_BYTES} bytes",
                    f"Tệp {file} lớn hơn {REORGANISATION_FILE_MAX_BYTES} byte",
                )
            fields = ReorganisationFields.model_validate_json(file.read_bytes())
        else:
            fields = ReorganisationFields.model_validate(
                _reorganisation_options(kind, decision, issued, issuer, effective, agency or [], share or [])
            )
    except ValidationError as exc:
        err.print(
            f"[red]Quyết định sắp xếp chưa hợp lệ: {exc.errors()[0]['msg']}[/]\n[dim]invalid-reorganisation: {exc}[/]"
        )
        raise typer.Exit(2) from exc
    except Rejected as exc:
        err.print(f"[red]{exc.message_vi}[/]\n[dim]{exc.code}: {exc.message_en}[/]")
        raise typer.Exit(2) from exc

    async def work() -> Any:
        async with assignment_db(_database_url()) as pool, unit_of_work(pool, _clock()) as uow:
            return await reorganise(reorganisation_id, fields, uow, OPERATOR)

    applied = _run(work)
    if not applied.changed:
        out.print(f"Quyết định {reorganisation_id} đã được áp dụng trước đó; không có thay đổi.")
    else:
        out.print(
            f"Đã áp dụng {reorganisation_id}: {len(applied.moved_task_ids)} nhiệm vụ chuyển cho cơ quan kế thừa "
            f"({applied.transfers} lượt chuyển)."
        )
    if applied.undecided_task_ids:
        out.print(
            f"Chờ quyết định phân công (tạm giao cơ quan kế thừa thứ nhất): {', '.join(applied.undecided_task_ids)}"
        )


def _reorganisation_options(
    kind: str,
    decision: str | None,
    issued: str | None,
    issuer: str | None,
    effective: str | None,
    agencies: list[str],
    shares: list[str],
) -> dict[str, Any]:
    if not (decision and issued and issuer and agencies):
        raise Rejected(
            "missing-option",
            "give --file, or --decision, --issued, --issuer and at least one --agency OLD=SUCCESSOR",
            "Cần --file, hoặc --decision, --issued, --issuer và ít nhất một --agency CŨ=KẾ_THỪA",
        )
    issued_on = _date(issued, "--issued")
    abolished: dict[str, dict[str, Any]] = {}
    for spec in agencies:
        old, _, successors = spec.partition("=")
        names = [s.strip() for s in successors.split(",") if s.strip()]
        if not old.strip() or not names:
            raise Rejected(
                "bad-option",
                f"--agency {spec!r}: write OLD=SUCCESSOR[,OTHER…]",
                f"--agency {spec!r}: cần dạng CŨ=KẾ_THỪA[,KHÁC…]",
            )
        abolished[old.strip()] = {
            "agency_id": old.strip(),
            "successor_id": names[0],
            "other_successor_ids": names[1:],
            "shares": [],
        }
    for spec in shares:
        old, _, rest = spec.partition(":")
        task_id, _, successor = rest.partition("=")
        if old not in abolished or not task_id or not successor:
            raise Rejected(
                "bad-option",
                f"--share {spec!r}: write OLD:TASK_ID=SUCCESSOR, OLD being one of the --agency",
                f"--share {spec!r}: cần dạng CŨ:MÃ_NHIỆM_VỤ=KẾ_THỪA, CŨ là một cơ quan của --agency",
            )
        abolished[old]["shares"].append({"task_id": task_id, "successor_id": successor})
    return {
        "kind": kind,
        "decision": {"number": decision, "issued_on": issued_on.isoformat(), "issuer": issuer},
        "effective_on": (_date(effective, "--effective") if effective else issued_on).isoformat(),
        "agencies": list(abolished.values()),
    }
