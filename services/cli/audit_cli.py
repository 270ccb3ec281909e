"""`dondoc audit verify` and `dondoc audit history TASK_ID`: what an inspector runs."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import httpx
import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import Progress

from services.runtime.settings import get_settings

audit_app = typer.Typer(no_args_is_help=True, help="Kiểm tra sổ sự kiện (the hash-chained audit log).")
console = Console(stderr=True)

# Exit codes of `audit verify`, for scripts and monitoring.
INTACT, TAMPERED, CANNOT_VERIFY = 0, 1, 2
_KINDS_VI = {
    "modified": "bị sửa",
    "deleted": "bị xoá",
    "inserted": "bị chèn thêm",
    "reordered": "bị đảo thứ tự",
    "truncated": "bị cắt bỏ phần cuối",
    "forged-head": "đầu chuỗi (chain_head) bị làm giả",
    "forged-checkpoint": "mốc kiểm tra (checkpoint) bị làm giả",
}


@audit_app.command("verify")
def verify(
    skip_log: Annotated[
        bool, typer.Option("--skip-log", help="Check the table and chain_head only, not the checkpoints and Kafka log")
    ] = False,
) -> None:
    """Hold the audit table to the chain key, the signed checkpoints and the Kafka log; name the first row that
    differs and how (modified, deleted, inserted, reordered, truncated, forged-head, forged-checkpoint).

    Exit codes: 0 intact; 1 tampering found; 2 could not verify (no DONDOC_AUDIT_KEY, database or Kafka
    unreachable)."""
    import asyncpg

    from services.audit import evidence
    from services.audit.bootstrap import DEFINITION
    from services.audit.domain import MissingAuditKey, chain_key

    settings = get_settings()
    try:
        key = chain_key(settings.audit_key)
    except MissingAuditKey as exc:
        console.print(f"[red]{exc}[/]\nCần khoá của chuỗi kiểm tra (DONDOC_AUDIT_KEY) để xác minh sổ sự kiện.")
        raise typer.Exit(CANNOT_VERIFY) from exc
    kafka = None if skip_log else settings
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("Verifying the audit chain", total=None)
            report = asyncio.run(
                evidence.verify(
                    key,
                    settings.database_url_of("audit"),
                    kafka,
                    tuple(DEFINITION.topics),
                    on_rows=lambda n: progress.advance(task, n),
                )
            )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as exc:
        console.print(
            f"[red]Could not verify the audit log: {type(exc).__name__}: {exc}[/]\n"
            "Không xác minh được sổ sự kiện: không kết nối được cơ sở dữ liệu hoặc Kafka."
        )
        raise typer.Exit(CANNOT_VERIFY) from exc
    held = "" if skip_log else f", {report.checkpoints} signed checkpoints, {report.logged} events of the Kafka log"
    if report.finding is None:
        console.print(f"[green]Audit chain intact: {report.checked} events verified{held}.[/]\nSổ sự kiện toàn vẹn.")
        return
    f = report.finding
    row = f" at row #{f.seq}" if f.seq is not None else ""
    console.print(
        f"[red]Audit log tampered: {f.kind}{row}. {f.detail}[/]\n"
        f"Sổ sự kiện đã {_KINDS_VI.get(f.kind, 'bị can thiệp')}"
        + (f" tại dòng #{f.seq}." if f.seq is not None else ".")
        + f"\n({report.checked} events verified before it{held}.)"
    )
    raise typer.Exit(TAMPERED)


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
        console.print(
            f"[red]No task {task_id} was recorded that this token may see (a secret task: --token of an "
            "agency involved).[/]\nKhông có nhiệm vụ này, hoặc mã xác thực không được xem (nhiệm vụ mật)."
        )
        raise typer.Exit(1)
    if response.status_code in (401, 403):
        detail = response.json().get("detail", {})
        console.print(f"[red]{detail.get('message', response.text)}[/]\n{detail.get('message_vi', '')}")
        raise typer.Exit(1)
    response.raise_for_status()
    print(json.dumps(response.json(), ensure_ascii=False, indent=2))
