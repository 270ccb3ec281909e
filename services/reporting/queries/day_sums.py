"""Which ``live`` and ``journal`` rows add up to a scope's tally at the end of a day.

Near ``live_day``, ``live`` plus or minus the journal's days in between; for a day far from it, the
journal summed up to that day by years, months and days — a handful of rows either way, where days
alone would grow with the distance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.reporting.domain import STATES
from services.reporting.queries.sql import Sql

GAP_DAYS = 62  # live ± this many days of journal; further away, the journal summed by years, months, days


def prefix_condition(day: date, q: Sql) -> str:
    """SQL: the journal rows whose sum is everything up to the end of ``day`` — earlier years, earlier
    months of its year, and its month's days up to it."""
    year, month = q(day.replace(month=1, day=1)), q(day.replace(day=1))
    return (
        f"((level = 'y' AND period < {year}) OR (level = 'm' AND period >= {year} AND period < {month}) "
        f"OR (level = 'd' AND period >= {month} AND period <= {q(day)}))"
    )


def journal_parts(
    kinds: Sequence[tuple[str, int]],
    scopes: Sequence[str] | None,
    day: date,
    until: date | None,
    q: Sql,
    *,
    key: bool,
) -> list[str]:
    """SQL selects of (scope, key_only, states…) whose sum per scope is its tally at the end of ``day``:
    ``live`` and the journal's days between, or far from ``live_day`` the journal summed up to ``day``.
    Each kind comes with a sign ('s' +1 and 'x' -1 make a breakdown row)."""
    scope_list = q(list(scopes)) if scopes is not None else None
    near = until is not None and abs((day - until).days) <= GAP_DAYS
    parts = []
    for kind, sign in kinds:
        where = f"kind = '{kind}'"
        if scope_list is not None:
            where += f" AND scope = ANY({scope_list}::text[])"
        if not key:
            where += " AND NOT key_only"

        def cols(factor: int) -> str:
            return ", ".join(c if factor == 1 else f"-{c}" for c in STATES)

        if near:
            assert until is not None
            parts.append(f"SELECT scope, key_only, {cols(sign)} FROM live WHERE {where}")
            if day != until:
                low, high = sorted((day, until))
                factor = sign if day > until else -sign
                parts.append(
                    f"SELECT scope, key_only, {cols(factor)} FROM journal WHERE {where} "
                    f"AND level = 'd' AND period > {q(low)} AND period <= {q(high)}"
                )
        else:
            parts.append(
                f"SELECT scope, key_only, {cols(sign)} FROM journal WHERE {where} AND {prefix_condition(day, q)}"
            )
    return parts
