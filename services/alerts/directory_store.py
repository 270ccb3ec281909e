"""SQL of the directory as the alerts service knows it (schema ``alerts``): heads, tracking offices,
people's e-mail, agencies' webhooks."""

from __future__ import annotations

from collections.abc import Iterable

from events.directory import AgencyChanged, PersonChanged
from services.alerts.adapters import Conn
from services.alerts.domain import AgencyInfo, Person


async def agencies(conn: Conn, agency_ids: Iterable[str]) -> dict[str, AgencyInfo]:
    """Head and tracking offices of the agencies asked for, and the heads of those offices (one query:
    it runs for every alert)."""
    rows = await conn.fetch(
        """WITH offices AS (
               SELECT parent_id, agency_id FROM agencies
               WHERE parent_id = ANY($1) AND tracking_office AND active),
           every AS (SELECT unnest($1::text[]) AS agency_id UNION SELECT agency_id FROM offices)
           SELECT e.agency_id,
                  (SELECT p.person_id FROM people p WHERE p.agency_id = e.agency_id AND p.role = 'head'
                     AND p.active ORDER BY p.person_id LIMIT 1) AS head,
                  ARRAY(SELECT o.agency_id FROM offices o WHERE o.parent_id = e.agency_id
                        ORDER BY o.agency_id) AS offices
           FROM every e""",
        list(dict.fromkeys(agency_ids)),
    )
    return {r["agency_id"]: AgencyInfo(r["head"], tuple(r["offices"])) for r in rows}


async def upsert_agency(conn: Conn, event: AgencyChanged) -> None:
    await conn.execute(
        """INSERT INTO agencies (agency_id, name, parent_id, tracking_office, active, version)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (agency_id) DO UPDATE SET name = $2, parent_id = $3, tracking_office = $4, active = $5,
               version = $6 WHERE agencies.version < $6""",
        event.agency_id,
        event.name,
        event.parent_id,
        event.tracking_office,
        event.active,
        event.version,
    )


async def upsert_person(conn: Conn, event: PersonChanged) -> None:
    await conn.execute(
        """INSERT INTO people (person_id, agency_id, name, role, email, active, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (person_id) DO UPDATE SET agency_id = $2, name = $3, role = $4,
               email = coalesce($5, people.email), active = $6, version = $7 WHERE people.version < $7""",
        event.person_id,
        event.agency_id,
        event.full_name,
        event.role,
        event.email,
        event.active,
        event.version,
    )


async def set_email(conn: Conn, person_id: str, email: str) -> None:
    await conn.execute(
        """INSERT INTO people (person_id, email) VALUES ($1, $2)
           ON CONFLICT (person_id) DO UPDATE SET email = $2""",
        person_id,
        email,
    )


_PERSON = "person_id, agency_id, name, role, email, active, version"  # Person's fields, in order


async def get_person(conn: Conn, person_id: str) -> Person | None:
    row = await conn.fetchrow(f"SELECT {_PERSON} FROM people WHERE person_id = $1", person_id)
    return Person(*row) if row else None


async def set_webhook(conn: Conn, agency_id: str, url: str, secret: str) -> None:
    await conn.execute(
        """INSERT INTO webhooks (agency_id, url, secret) VALUES ($1, $2, $3)
           ON CONFLICT (agency_id) DO UPDATE SET url = $2, secret = $3, updated_at = now()""",
        agency_id,
        url,
        secret,
    )


async def contacts_of(
    conn: Conn, pairs: Iterable[tuple[str, str | None]]
) -> dict[tuple[str, str | None], tuple[str | None, str | None]]:
    """(e-mail of the person, webhook URL of the agency's system) of each (person, agency), in one query:
    where to deliver beyond the app."""
    wanted = list(dict.fromkeys(pairs))
    rows = await conn.fetch(
        """SELECT w.person_id, w.agency_id,
                  (SELECT email FROM people WHERE person_id = w.person_id) AS email,
                  (SELECT url FROM webhooks WHERE agency_id = w.agency_id) AS url
           FROM unnest($1::text[], $2::text[]) AS w (person_id, agency_id)""",
        [person for person, _ in wanted],
        [agency for _, agency in wanted],
    )
    return {(r["person_id"], r["agency_id"]): (r["email"], r["url"]) for r in rows}


async def webhook_secret(conn: Conn, agency_id: str) -> str | None:
    value = await conn.fetchval("SELECT secret FROM webhooks WHERE agency_id = $1", agency_id)
    return str(value) if value is not None else None
