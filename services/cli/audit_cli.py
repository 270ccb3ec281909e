"""`dondoc audit verify` and `dondoc audit history TASK_ID`: what an inspector runs."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from services.runtime.settings import get_settings

audit_app = typer.Typer(no_args_is_help=True, help="Kiểm tra sổ sự kiện (the hash-chained audit log).")
console = Console(stderr=True)

_BATCH = 5000


async def verify_chain(database_url: str, on_batch: object = None) -> tuple[int, int | None]:
    """(rows checked, seq of the first broken link or None)."""
    import asyncpg

    from services.audit.adapters import chain_rows
    from services.audit.domain import GENESIS, first_break

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "audit"})
    try:
        checked, prev, after = 0, GENESIS, 0
        while rows := await chain_rows(conn, after, _BATCH):
            broken = first_break(rows, prev)
            if broken is not None:
                return checked, broken
            checked += len(rows)
            prev, after = rows[-1][3], rows[-1][0]
            if callable(on_batch):
                on_batch(len(rows))
        head = await conn.fetchrow("SELECT seq, hash FROM chain_head")
        if head is not None and (head["seq"] != after or bytes(head["hash"]) != prev):
            return checked, after + 1  # rows at the end were removed: the head remembers them
        return checked, None
    finally:
        await conn.close()


@audit_app.command("verify")
def verify() -> None:
    """Recompute every hash of the audit chain; exit 1 at the first broken link."""
    settings = get_settings()
    with Progress(console=console) as progress:
        task = progress.add_task("Verifying the audit chain", total=None)
        checked, broken = asyncio.run(verify_chain(settings.database_url, lambda n: progress.advance(task, n)))
    if broken is None:
        console.print(f"[green]Audit chain intact: {checked} events verified.[/]")
        return
    console.print(f"[red]Audit chain broken at event #{broken} (after {checked} intact events).[/]")
    raise typer.Exit(1)


@audit_app.command("history")
def history(
    task_id: str,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="DONDOC_TOKEN", help="Agency token: needed for a secret (mật) task"),
    ] = None,
) -> None:
    """Print a task's history (every event, in the order it happened, with its chain seq) as JSON."""
    url = f"{get_settings().url_of('audit')}/v1/audit/tasks/{task_id}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        console.print(f"[red]The audit service is not reachable at {url}: {exc}[/]")
        raise typer.Exit(2) from exc
    if response.status_code == 404:
        # A secret task answers to others as one never recorded (services/runtime/access.py).
        console.print(f"[red]No task {task_id} was recorded that this token may see (a secret task: --token of an "
                      "agency involved).[/]\nKhông có nhiệm vụ này, hoặc mã xác thực không được xem (nhiệm vụ mật).")
        raise typer.Exit(1)
    if response.status_code in (401, 403):
        detail = response.json().get("detail", {})
        console.print(f"[red]{detail.get('message', response.text)}[/]\n{detail.get('message_vi', '')}")
        raise typer.Exit(1)
    response.raise_for_status()
    print(json.dumps(response.json(), ensure_ascii=False, indent=2))
