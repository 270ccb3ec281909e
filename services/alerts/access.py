"""Who may read a person's alerts (the inbox and the live stream): the person's own agency, no other.

The person's agency is the one the directory gives; when the directory does not know them (or knows
them without an agency, e.g. only an e-mail address was set), the agency recorded on the newest of
the alerts addressed to them (``recipient_agency_id``: the agency the alert reached them through).
A person neither source knows has no agency we can name, so nobody reads their alerts yet: opening a
stream "in advance" for an unknown person would otherwise hand their future alerts to anyone.

Why not ancestor agencies (the province over a department, the Government over a ministry): alerts
go to people, not agencies (DESIGN §4), and an inbox says what one civil servant was told and when.
Leaders already hear what concerns them through their own inbox (overdue tasks escalate to the head
of the assigning agency and its tracking office) and see everyone's figures through reports; letting
every ancestor read every subordinate's inbox would give the Government a window on the whole
country's personal alerts. Acknowledging an alert is limited to the same agency (commands.py), so
reading and acknowledging follow one rule.

The rule holds for as long as a stream stays open, not only when it opens: the stream asks again
(routes.still_readable, stream.py), so once a person moves to another agency, the old one's open
streams of their alerts end, as do those of a revoked token or an abolished agency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.alerts.adapters import Conn
from services.runtime.refusals import forbidden

Source = Literal["directory", "alerts"]


@dataclass(frozen=True)
class PersonAgency:
    """The agency a person belongs to as the alerts service knows it, and where that came from."""

    agency_id: str | None = None
    source: Source | None = None


_SOURCE_EN = {"directory": "per the directory", "alerts": "per the alerts addressed to them"}


def check_read(reader_agency_id: str, person_id: str, person: PersonAgency) -> None:
    """Raise a 403 ``Refused`` unless the reader's agency is the person's agency (exactly: no ancestors)."""
    if person.agency_id is None:
        raise forbidden(
            "person-agency-unknown",
            f"{person_id} is neither in the directory nor the recipient of any alert, so their agency is "
            f"unknown; only a token of the person's own agency may read their alerts",
            f"Chưa xác định được cơ quan của {person_id} (không có trong danh bạ và chưa nhận cảnh báo nào); "
            "chỉ mã xác thực của chính cơ quan người đó mới được xem cảnh báo của họ",
        )
    if person.agency_id != reader_agency_id:
        source = _SOURCE_EN.get(person.source or "", "")
        raise forbidden(
            "not-persons-agency",
            f"{person_id} belongs to {person.agency_id} ({source}); only a token of {person.agency_id} may read "
            f"their alerts, not one of {reader_agency_id} (parent agencies neither: they see figures in reports)",
            f"Cảnh báo là của riêng cán bộ {person_id} thuộc {person.agency_id}: chỉ mã xác thực của chính "
            f"{person.agency_id} được xem, mã của {reader_agency_id} không được (cơ quan cấp trên theo dõi "
            "qua báo cáo số liệu)",
        )


# The directory first; the newest alert's agency only when the directory has no agency for them.
_AGENCY_OF = """
SELECT (SELECT agency_id FROM people WHERE person_id = $1) AS directory,
       (SELECT recipient_agency_id FROM alerts
         WHERE recipient_person_id = $1 AND recipient_agency_id IS NOT NULL
         ORDER BY raised_at DESC, alert_id LIMIT 1) AS alerts
"""


async def agency_of(conn: Conn, person_id: str) -> PersonAgency:
    row = await conn.fetchrow(_AGENCY_OF, person_id)
    return _person_agency(row["directory"], row["alerts"]) if row is not None else PersonAgency()


def _person_agency(directory: str | None, alerts: str | None) -> PersonAgency:
    if directory:
        return PersonAgency(directory, "directory")
    if alerts:
        return PersonAgency(alerts, "alerts")
    return PersonAgency()


# _AGENCY_OF for many people at once, by the same rule.
_AGENCIES_OF = """
SELECT p.person_id,
       (SELECT agency_id FROM people WHERE person_id = p.person_id) AS directory,
       (SELECT recipient_agency_id FROM alerts
         WHERE recipient_person_id = p.person_id AND recipient_agency_id IS NOT NULL
         ORDER BY raised_at DESC, alert_id LIMIT 1) AS alerts
FROM unnest($1::text[]) AS p (person_id)
"""


async def agencies_of(conn: Conn, person_ids: Sequence[str]) -> dict[str, PersonAgency]:
    """``agency_of`` each of these people, in one round trip (the re-checks of many open streams)."""
    rows = await conn.fetch(_AGENCIES_OF, sorted(set(person_ids)))
    return {r["person_id"]: _person_agency(r["directory"], r["alerts"]) for r in rows}
