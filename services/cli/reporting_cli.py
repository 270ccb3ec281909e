"""CLI commands of the reporting side (registered on the main `dondoc` app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to `dondoc` (and its benchmarks to `dondoc bench`)."""
