"""CLI commands of the alerts side: `dondoc alerts deliveries` and `dondoc alerts retry DELIVERY_ID`.

They ask the running alerts service (DONDOC_ALERTS_PORT) over HTTP with an agency token, so an operator
sees and retries exactly what the API allows that agency: the deliveries to its own people.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)

alerts_app = typer.Typer(no_args_is_help=True, help="Alert deliveries (webhook, e-mail) of your agency.")

_TOKEN = typer.Option(
    ..., "--token", envvar="DONDOC_TOKEN", help="Agency token (`dondoc token issue AGENCY_ID`): whose deliveries"
)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to `dondoc`."""
    app.add_typer(alerts_app, name="alerts")


def _call(method: str, path: str, token: str, **kwargs: Any) -> Any:
    """One request to the alerts service; an unreachable service or a refusal ends with a clear message."""
    import httpx

    from services.runtime.settings import get_settings

    url = f"{get_settings().url_of('alerts')}{path}"
    try:
        response = httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        err.print(
            f"[red]Không kết nối được dịch vụ cảnh báo tại {url} ({exc!r}).[/] "
            "Start it with `dondoc up` or `dondoc service alerts`."
        )
        raise typer.Exit(1) from exc
    if not response.is_success:
        is_json = response.headers.get("content-type", "").startswith("application/json")
        detail: Any = response.json().get("detail") if is_json else response.text
        if isinstance(detail, dict):
            err.print(f"[red]{detail.get('message_vi') or detail.get('message')}[/]")
            err.print(f"[dim]HTTP {response.status_code} {detail.get('code', '')}: {detail.get('message', '')}[/]")
        else:
            err.print(f"[red]Dịch vụ cảnh báo trả lời {response.status_code}: {detail}[/]")
        raise typer.Exit(1)
    return response.json()


def _local(instant: str) -> str:
    """An API instant as officials read it: Asia/Ho_Chi_Minh, dd/mm/yyyy HH:MM:SS."""
    from events.clock import VN_TZ

    return datetime.fromisoformat(instant).astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


@alerts_app.command("deliveries")
def deliveries(
    status: str = typer.Option("failed", "--status", help="failed (gave up) | pending (still trying)"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    token: str = _TOKEN,
) -> None:
    """Lần gửi cảnh báo của cơ quan: failed (or pending) deliveries, with attempts and the last error."""
    if status not in ("failed", "pending"):
        err.print(f"[red]--status {status!r}: use failed or pending[/]")
        raise typer.Exit(2)
    body = _call("GET", "/v1/alerts/deliveries", token, params={"status": status, "limit": limit})
    rows = body["deliveries"]
    label = {"failed": "thất bại (failed)", "pending": "đang chờ gửi (pending)"}[status]
    table = Table(title=f"{body['agency_id']}: {len(rows)} lần gửi {label}")
    table.add_column("delivery_id", no_wrap=True, min_width=36)
    when = "next attempt" if status == "pending" else "created"
    for column in ("channel", "notice", "person", "target", "attempts", when, "last error"):
        table.add_column(column, overflow="fold", justify="right" if column == "attempts" else "left")
    for r in rows:
        table.add_row(
            r["delivery_id"],
            r["channel"],
            r["notice"],
            r["person_id"],
            r["target"],
            str(r["attempts"]),
            _local(r["next_attempt_at"] if status == "pending" else r["created_at"]),
            r["last_error"] or "",
        )
    Console(width=max(Console().width, 160)).print(table)
    if rows and status == "failed":
        err.print("Gửi lại (retry): dondoc alerts retry DELIVERY_ID")


@alerts_app.command("retry")
def retry(
    delivery_id: str = typer.Argument(..., help="From `dondoc alerts deliveries`"),
    token: str = _TOKEN,
) -> None:
    """Gửi lại: put a failed delivery back to its worker now, attempts reset (idempotent)."""
    try:
        uuid.UUID(delivery_id)
    except ValueError:
        err.print(f"[red]{delivery_id!r} không phải mã lần gửi (a delivery id is a UUID, see `alerts deliveries`)[/]")
        raise typer.Exit(2) from None
    row = _call("POST", f"/v1/alerts/deliveries/{delivery_id}/retry", token)
    if row["retried"]:
        Console().print(
            f"[green]Đã đưa lần gửi {delivery_id} vào hàng đợi gửi lại[/] ({row['channel']} → {row['target']})"
        )
    else:
        Console().print(f"Lần gửi {delivery_id} đang chờ gửi (status {row['status']}): không cần gửi lại")
