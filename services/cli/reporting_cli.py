"""CLI commands of the reporting side: ``dondoc report`` and ``dondoc bench reports``.

``dondoc report`` asks the running reporting service (DONDOC_REPORTING_PORT) over HTTP, so the CLI,
the dashboard and the API always show the same numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from services.reporting.export import FORMATS, render
from services.reporting.responses import ReportBody

console = Console(stderr=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to `dondoc` (and its benchmarks to `dondoc bench`)."""

    @app.command("report")
    def report(
        as_of: str = typer.Option(None, "--as-of", help="Figures as they stood at the end of YYYY-MM-DD"),
        as_recorded: bool = typer.Option(
            False,
            "--as-recorded",
            help="What dondoc showed then (recorded time, for audit), not as the documents date the facts",
        ),
        agency: str = typer.Option(None, "--agency", help="Agency id: that agency and its subtree"),
        document: str = typer.Option(None, "--document", help="Source document number, e.g. 131/NQ-CP"),
        period_from: str = typer.Option(None, "--from", help="Period: tasks assigned on or after YYYY-MM-DD"),
        period_to: str = typer.Option(None, "--to", help="Period: tasks assigned on or before YYYY-MM-DD"),
        lead_only: bool = typer.Option(False, "--lead-only", help="Only the tasks the agency itself leads"),
        fmt: str = typer.Option("table", "--format", help=f"One of: {', '.join(FORMATS)}"),
        output_file: str = typer.Option(None, "--output", "-o", help="Write here (xlsx, docx: a default name)"),
        issuer: str = typer.Option(None, "--issuer", help="docx: the issuing body (default: the report's scope)"),
        number: str = typer.Option(None, "--number", help="docx: số/ký hiệu, e.g. 125/BC-UBND (default: blank)"),
        place: str = typer.Option(None, "--place", help="docx: địa danh before the date, e.g. Bình Định"),
        token: str = typer.Option(
            None,
            "--token",
            envvar="DONDOC_TOKEN",
            help="Agency token: adds the secret tasks that agency is involved in",
        ),
    ) -> None:
        """Báo cáo tình hình thực hiện nhiệm vụ (the working group's figures), from the reporting service."""
        import httpx

        from services.runtime.settings import get_settings

        if fmt not in FORMATS:
            console.print(f"[red]--format {fmt!r}: use one of {', '.join(FORMATS)}[/]")
            raise typer.Exit(2)
        params = {
            k: v
            for k, v in {
                "as_of": as_of,
                "agency_id": agency,
                "document": document,
                "from": period_from,
                "to": period_to,
                "lead_only": "true" if lead_only else None,
                "as_recorded": "true" if as_recorded else None,
            }.items()
            if v
        }
        url = f"{get_settings().url_of('reporting')}/v1/reports/summary"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = httpx.get(url, params=params, headers=headers, timeout=30)
        except httpx.HTTPError as exc:
            console.print(
                f"[red]Không kết nối được dịch vụ báo cáo tại {url} ({exc!r}).[/] "
                "Start it with `dondoc up` or `dondoc service reporting`."
            )
            raise typer.Exit(1) from exc
        if response.status_code != 200:
            detail: Any = (
                response.json().get("detail")
                if response.headers.get("content-type", "").startswith("application/json")
                else response.text
            )
            message = detail.get("message_vi") or detail.get("message") if isinstance(detail, dict) else detail
            console.print(f"[red]Dịch vụ báo cáo trả lời {response.status_code}: {message}[/]")
            raise typer.Exit(1)
        body = ReportBody.model_validate_json(response.content)
        output = Path(output_file) if output_file else None
        if fmt in ("xlsx", "docx") and output is None:
            output = Path(f"bao-cao-{body.date}.{fmt}")
        if fmt == "docx":
            from services.reporting.docx_report import Letterhead, to_docx

            rendered: Any = to_docx(body, Letterhead(issuer=issuer or "", number=number or "", place=place or ""))
        else:
            rendered = render(body, fmt)
        if isinstance(rendered, bytes):
            assert output is not None
            output.write_bytes(rendered)
            console.print(f"wrote {output}")
        elif output is not None:
            output.write_text(rendered, encoding="utf-8")
            console.print(f"wrote {output}")
        elif fmt == "table":
            Console(width=140).print(rendered)
        else:
            sys.stdout.write(rendered)

    @bench_app.command("reports")
    def bench_reports(
        tasks: int = typer.Option(1_000_000, help="Tasks to seed"),
        requests: int = typer.Option(200, help="Summary requests to time"),
        as_of_requests: int = typer.Option(10, help="as_of summary requests to time"),
        reuse: bool = typer.Option(True, help="Reuse the seeded bench database when it has the same size"),
    ) -> None:
        """Summary latency over a large tree (p95 target < 50 ms), as_of (< 2 s), and the service's memory."""
        from bench.reports.run import run_bench

        result = run_bench(
            tasks=tasks,
            requests=requests,
            as_of_requests=as_of_requests,
            reuse=reuse,
            progress=lambda msg: console.print(f"[dim]{msg}[/]"),
        )
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
