"""SQL of the directory (schema ``assignment``): upserts that report whether anything changed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TypeAlias

import asyncpg

from events.directory import GroupRule
from services.assignment.directory.model import AgencyRecord, GroupRecord, PersonRecord
from services.assignment.directory.tree import Directory
from services.assignment.directory.views import AgencyBrief, AgencyView, GroupView, PersonBrief, PersonView

Conn: TypeAlias = "asyncpg.Connection | asyncpg.Pool"

_AGENCY_COLUMNS = (
    "name",
    "short_name",
    "level",
    "parent_id",
    "aliases",
    "tracking_office",
    "can_assign_to",
    "active",
    "successor_id",
)
_PERSON_COLUMNS = ("agency_id", "full_name", "role", "title", "email", "active", "demo")


def agency_of(row: asyncpg.Record) -> AgencyRecord:
    return AgencyRecord(agency_id=row["agency_id"], **{c: _tuple(row[c]) for c in _AGENCY_COLUMNS})


def person_of(row: asyncpg.Record) -> PersonRecord:
    return PersonRecord(person_id=row["person_id"], **{c: row[c] for c in _PERSON_COLUMNS})


def group_of(row: asyncpg.Record) -> GroupRecord:
    rule = GroupRule.model_validate_json(row["rule"]) if row["rule"] else None
    return GroupRecord(
        group_id=row["group_id"],
        name=row["name"],
        aliases=tuple(row["aliases"]),
        kind=row["kind"],
        rule=rule,
        member_ids=tuple(row["member_ids"]),
    )


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


async def upsert_agency(
    conn: asyncpg.Connection, record: AgencyRecord, name_keys: list[str], now: datetime
) -> int | None:
    """The new version, or None when the stored agency already says exactly this."""
    row = await conn.fetchrow("SELECT * FROM agencies WHERE agency_id = $1 FOR UPDATE", record.agency_id)
    if row is not None and agency_of(row) == record:
        return None
    values = [getattr(record, c) for c in _AGENCY_COLUMNS]
    version: int = await conn.fetchval(
        f"""INSERT INTO agencies (agency_id, {", ".join(_AGENCY_COLUMNS)}, name_keys, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (agency_id) DO UPDATE SET
              {", ".join(f"{c} = EXCLUDED.{c}" for c in _AGENCY_COLUMNS)}, name_keys = EXCLUDED.name_keys,
              updated_at = EXCLUDED.updated_at, version = agencies.version + 1
            RETURNING version""",
        record.agency_id,
        *[list(v) if isinstance(v, tuple) else v for v in values],
        name_keys,
        now,
    )
    return version


async def upsert_person(conn: asyncpg.Connection, record: PersonRecord, now: datetime) -> int | None:
    row = await conn.fetchrow("SELECT * FROM people WHERE person_id = $1 FOR UPDATE", record.person_id)
    if row is not None and person_of(row) == record:
        return None
    version: int = await conn.fetchval(
        f"""INSERT INTO people (person_id, {", ".join(_PERSON_COLUMNS)}, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (person_id) DO UPDATE SET
              {", ".join(f"{c} = EXCLUDED.{c}" for c in _PERSON_COLUMNS)},
              updated_at = EXCLUDED.updated_at, version = people.version + 1
            RETURNING version""",
        record.person_id,
        *[getattr(record, c) for c in _PERSON_COLUMNS],
        now,
    )
    return version


async def upsert_group(
    conn: asyncpg.Connection, record: GroupRecord, name_keys: list[str], now: datetime
) -> int | None:
    row = await conn.fetchrow("SELECT * FROM agency_groups WHERE group_id = $1 FOR UPDATE", record.group_id)
    if row is not None and group_of(row) == record:
        return None
    version: int = await conn.fetchval(
        """INSERT INTO agency_groups (group_id, name, aliases, kind, rule, member_ids, name_keys, updated_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)
           ON CONFLICT (group_id) DO UPDATE SET name = EXCLUDED.name, aliases = EXCLUDED.aliases,
             kind = EXCLUDED.kind, rule = EXCLUDED.rule, member_ids = EXCLUDED.member_ids,
             name_keys = EXCLUDED.name_keys, updated_at = EXCLUDED.updated_at,
             version = agency_groups.version + 1
           RETURNING version""",
        record.group_id,
        record.name,
        list(record.aliases),
        record.kind,
        record.rule.model_dump_json() if record.rule else None,
        list(record.member_ids),
        name_keys,
        now,
    )
    return version


async def agencies(conn: Conn, ids: Collection[str]) -> dict[str, AgencyRecord]:
    rows = await conn.fetch("SELECT * FROM agencies WHERE agency_id = ANY($1::text[])", list(ids))
    return {r["agency_id"]: agency_of(r) for r in rows}


async def chains(conn: Conn, ids: Collection[str]) -> dict[str, list[str]]:
    """For each agency: itself, its parent, … up to the root."""
    rows = await conn.fetch(
        """WITH RECURSIVE up (start, agency_id, parent_id, depth) AS (
               SELECT agency_id, agency_id, parent_id, 0 FROM agencies WHERE agency_id = ANY($1::text[])
               UNION ALL
               SELECT up.start, a.agency_id, a.parent_id, up.depth + 1
               FROM up JOIN agencies a ON a.agency_id = up.parent_id WHERE up.depth < 64)
           SELECT start, agency_id FROM up ORDER BY start, depth""",
        list(ids),
    )
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["start"], []).append(r["agency_id"])
    return found


async def name_owners(conn: Conn, name_keys: list[str], *, agency_id: str = "", group_id: str = "") -> list[str]:
    """Other active agencies and groups already known under one of these keys."""
    rows = await conn.fetch(
        """SELECT agency_id AS id, name FROM agencies WHERE active AND name_keys && $1 AND agency_id <> $2
           UNION ALL
           SELECT group_id, name FROM agency_groups WHERE name_keys && $1 AND group_id <> $3""",
        name_keys,
        agency_id,
        group_id,
    )
    return [f"{r['id']} ({r['name']})" for r in rows]


async def person(conn: Conn, person_id: str) -> PersonRecord | None:
    row = await conn.fetchrow("SELECT * FROM people WHERE person_id = $1", person_id)
    return person_of(row) if row else None


async def other_head(conn: Conn, agency_id: str, person_id: str) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT person_id FROM people WHERE agency_id = $1 AND role = 'head' AND active AND person_id <> $2",
        agency_id,
        person_id,
    )


async def group_ids(conn: Conn, ids: Collection[str]) -> set[str]:
    rows = await conn.fetch("SELECT group_id FROM agency_groups WHERE group_id = ANY($1::text[])", list(ids))
    return {r["group_id"] for r in rows}


async def load(conn: Conn) -> Directory:
    """The whole directory, in directory order."""
    agencies_ = await conn.fetch("SELECT * FROM agencies ORDER BY seq")
    groups = await conn.fetch("SELECT * FROM agency_groups ORDER BY seq")
    people = await conn.fetch("SELECT * FROM people ORDER BY seq")
    return Directory(
        {r["agency_id"]: agency_of(r) for r in agencies_},
        {r["group_id"]: group_of(r) for r in groups},
        {r["person_id"]: person_of(r) for r in people},
    )


async def agency_view(conn: Conn, agency_id: str) -> AgencyView | None:
    """An agency with its active people and the agencies right under it, in directory order."""
    row = await conn.fetchrow("SELECT * FROM agencies WHERE agency_id = $1", agency_id)
    if row is None:
        return None
    people = await conn.fetch(
        "SELECT person_id, full_name, role, title FROM people WHERE agency_id = $1 AND active ORDER BY seq", agency_id
    )
    children = await conn.fetch("SELECT agency_id, name FROM agencies WHERE parent_id = $1 ORDER BY seq", agency_id)
    return AgencyView(
        **agency_of(row).model_dump(),
        version=row["version"],
        updated_at=row["updated_at"],
        people=tuple(PersonBrief(**p) for p in people),
        children=tuple(AgencyBrief(**c) for c in children),
    )


async def person_view(conn: Conn, person_id: str) -> PersonView | None:
    row = await conn.fetchrow("SELECT * FROM people WHERE person_id = $1", person_id)
    return PersonView.of(person_of(row), row["version"], row["updated_at"]) if row else None


async def group_view(conn: Conn, group_id: str) -> GroupView | None:
    row = await conn.fetchrow("SELECT * FROM agency_groups WHERE group_id = $1", group_id)
    if row is None:
        return None
    return GroupView(**group_of(row).model_dump(), version=row["version"], updated_at=row["updated_at"])
