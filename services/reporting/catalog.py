"""Reads of what reports are about: agencies (names, tree), documents, a task's delegation tree.

Each read returns frozen rows named for what they are, built from the asyncpg records by their field
names (rows.py): a renamed column fails here, and a renamed field is a type error where the row is read.
Their fields are in the order of the JSON the routes write (services/reporting/responses.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from services.reporting.rows import row_of
from services.reporting.vietnamese import sort_key_vi
from services.runtime.access import visible_sql


@dataclass(frozen=True, slots=True)
class Agency:
    """An agency with its head (the first person with the role, if any)."""

    agency_id: str
    name: str
    short_name: str
    level: str
    parent_id: str | None
    known: bool
    head_id: str | None
    head_name: str | None
    head_title: str | None


@dataclass(frozen=True, slots=True)
class TreeAgency:
    """One agency of the tree, at its depth (the roots at 0)."""

    agency_id: str
    parent_id: str | None
    name: str
    short_name: str
    level: str
    known: bool
    depth: int


@dataclass(frozen=True, slots=True)
class Document:
    number: str
    issued_on: date | None
    issuer: str


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One task of a delegation tree, at its depth below the topmost task."""

    depth: int
    task_id: str
    parent_task_id: str | None
    code: str
    title: str
    document: str
    classification: str
    assigning_agency_id: str
    lead_agency_id: str
    lead_agency_name: str | None
    assigning_agency_name: str | None
    coordinating_agency_ids: list[str]
    officer_in_charge_id: str | None
    officer_name: str | None
    bucket: str
    due: date | None
    original_due: date | None
    deadline_text: str
    percent: int
    completed_on: date | None
    on_time: bool | None
    key_task: bool


@dataclass(frozen=True, slots=True)
class FoundTask:
    task_id: str
    code: str
    title: str
    lead_agency_id: str
    parent_task_id: str | None


_AGENCY = """SELECT a.agency_id, a.name, a.short_name, a.level, a.parent_id, a.known,
                    h.person_id AS head_id, h.full_name AS head_name, h.title AS head_title
             FROM agencies a LEFT JOIN LATERAL (SELECT person_id, full_name, title FROM people
                  WHERE agency_id = a.agency_id AND role = 'head' ORDER BY person_id LIMIT 1) h ON true"""


async def agency(conn: asyncpg.Connection, agency_id: str) -> Agency | None:
    row = await conn.fetchrow(f"{_AGENCY} WHERE a.agency_id = $1", agency_id)
    return row_of(Agency, row) if row else None


async def agencies_by_id(conn: asyncpg.Connection, ids: list[str]) -> dict[str, Agency]:
    rows = await conn.fetch(f"{_AGENCY} WHERE a.agency_id = ANY($1::text[])", ids)
    return {r["agency_id"]: row_of(Agency, r) for r in rows}


async def top_of_tree(conn: asyncpg.Connection) -> tuple[list[str], dict[str, list[str]], dict[str, int]]:
    """The roots, the children of each root (both in Vietnamese order) and their depths, at once."""
    rows = await conn.fetch(
        """SELECT agency_id, parent_id, name, depth FROM agencies
           WHERE parent_id IS NULL OR parent_id IN (SELECT agency_id FROM agencies WHERE parent_id IS NULL)"""
    )
    ordered = sorted(rows, key=lambda r: sort_key_vi(r["name"]))
    roots = [r["agency_id"] for r in ordered if r["parent_id"] is None]
    below: dict[str, list[str]] = {}
    for r in ordered:
        if r["parent_id"] is not None:
            below.setdefault(r["parent_id"], []).append(r["agency_id"])
    return roots, below, {r["agency_id"]: r["depth"] for r in rows}


async def children(conn: asyncpg.Connection, parent_id: str | None) -> list[str]:
    if parent_id is None:
        rows = await conn.fetch("SELECT agency_id, name FROM agencies WHERE parent_id IS NULL")
    else:
        rows = await conn.fetch("SELECT agency_id, name FROM agencies WHERE parent_id = $1", parent_id)
    return [r["agency_id"] for r in sorted(rows, key=lambda r: sort_key_vi(r["name"]))]


async def tree(conn: asyncpg.Connection) -> list[TreeAgency]:
    """Every agency in tree order (parents first, siblings in Vietnamese order), with its depth."""
    rows = await conn.fetch("SELECT agency_id, parent_id, name, short_name, level, known FROM agencies")
    by_parent: dict[str | None, list[asyncpg.Record]] = {}
    ids = {r["agency_id"] for r in rows}
    for row in rows:
        parent = row["parent_id"] if row["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(row)
    out: list[TreeAgency] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(by_parent.get(parent, []), key=lambda r: sort_key_vi(r["name"])):
            out.append(row_of(TreeAgency, r, depth=depth))
            walk(r["agency_id"], depth + 1)

    walk(None, 0)
    return out


async def documents(conn: asyncpg.Connection, viewer: str | None = None) -> list[Document]:
    """Source documents with a task the viewer may see: one whose tasks are all secret is not listed
    to agencies not involved in them."""
    rows = await conn.fetch(
        f"""SELECT d.number, d.issued_on, d.issuer FROM documents d
           WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.document = d.number AND {visible_sql("$1", "t")})""",
        viewer,
    )
    return sorted((row_of(Document, r) for r in rows), key=lambda d: sort_key_vi(d.number))


async def documents_by_number(conn: asyncpg.Connection, numbers: list[str]) -> dict[str, Document]:
    rows = await conn.fetch("SELECT number, issued_on, issuer FROM documents WHERE number = ANY($1::text[])", numbers)
    return {r["number"]: row_of(Document, r) for r in rows}


async def delegation_tree(conn: asyncpg.Connection, task_id: str) -> list[TreeNode]:
    """The chain a task belongs to: from its topmost ancestor, every task delegated from it, in order."""
    rows = await conn.fetch(
        """WITH RECURSIVE up AS (
               SELECT task_id, parent_task_id, 0 AS hops FROM tasks WHERE task_id = $1
               UNION ALL
               SELECT t.task_id, t.parent_task_id, up.hops + 1
               FROM tasks t JOIN up ON t.task_id = up.parent_task_id
               WHERE up.hops < 50),
           root AS (SELECT task_id FROM up ORDER BY hops DESC LIMIT 1),
           down AS (
               SELECT t.task_id, t.parent_task_id, 0 AS depth, ARRAY[t.assigned_at] AS path FROM tasks t
               WHERE t.task_id = (SELECT task_id FROM root)
               UNION ALL
               SELECT t.task_id, t.parent_task_id, down.depth + 1, down.path || t.assigned_at
               FROM tasks t JOIN down ON t.parent_task_id = down.task_id WHERE down.depth < 50)
           SELECT d.depth, t.task_id, t.parent_task_id, t.code, t.title, t.document, t.classification,
                  t.assigning_agency_id, t.lead_agency_id, la.name AS lead_agency_name,
                  aa.name AS assigning_agency_name, t.coordinating_agency_ids, t.officer_in_charge_id,
                  o.full_name AS officer_name, t.bucket, t.due, t.original_due, t.deadline_text, t.percent,
                  t.completed_on, t.on_time, t.key_task
           FROM down d JOIN tasks t ON t.task_id = d.task_id
           LEFT JOIN agencies la ON la.agency_id = t.lead_agency_id
           LEFT JOIN agencies aa ON aa.agency_id = t.assigning_agency_id
           LEFT JOIN people o ON o.person_id = t.officer_in_charge_id
           ORDER BY d.path, t.code""",
        task_id,
    )
    return [row_of(TreeNode, r) for r in rows]


async def find_tasks(conn: asyncpg.Connection, text: str, viewer: str | None, limit: int = 20) -> list[FoundTask]:
    """Tasks whose code or title contains the text (for picking one whose tree to show)."""
    rows = await conn.fetch(
        f"""SELECT task_id, code, title, lead_agency_id, parent_task_id FROM tasks
           WHERE (code ILIKE '%' || $1 || '%' OR title ILIKE '%' || $1 || '%') AND {visible_sql("$2")}
           ORDER BY code LIMIT $3""",
        text,
        viewer,
        limit,
    )
    return [row_of(FoundTask, r) for r in rows]
