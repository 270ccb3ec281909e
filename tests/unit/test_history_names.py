"""The dashboard's task history names who took each step (services/reporting/dashboard_actions.py): a person
by full name and agency, an agency's system as such, dondoc itself as such. No database: a fake directory."""

from __future__ import annotations

from services.reporting.dashboard_actions import name_actors
from services.reporting.responses import HistoryStep

PEOPLE = {"p-bd-thpt-binh-duong-officer-1": "Lâm Thị Thu Phương"}
AGENCIES = {"bd-thpt-binh-duong": "Trường THPT Bình Dương", "bd-sgddt": "Sở Giáo dục và Đào tạo"}


class Directory:
    async def fetch(self, sql: str, ids: list[str] | None) -> list[dict[str, str]]:
        if "FROM people" in sql:
            return [{"person_id": p, "full_name": PEOPLE[p]} for p in ids or () if p in PEOPLE]
        return [{"agency_id": a, "name": n} for a, n in AGENCIES.items() if ids is None or a in ids]


def step(agency_id: str | None, person_id: str | None = None) -> HistoryStep:
    actor = {"agency_id": agency_id, "person_id": person_id}
    return HistoryStep(seq=1, event_type="TaskAssigned", occurred_at=None, actor=actor, payload={})


async def test_each_step_says_who_took_it_in_words() -> None:
    steps = [
        step("bd-thpt-binh-duong", "p-bd-thpt-binh-duong-officer-1"),
        step("bd-sgddt"),
        step("dondoc"),
        step("bd-sgddt", "p-unknown"),
    ]
    named = await name_actors(Directory(), steps)
    assert [s.by.text if s.by else None for s in named] == [
        "Lâm Thị Thu Phương (Trường THPT Bình Dương)",
        "hệ thống của Sở Giáo dục và Đào tạo",
        "dondoc (tự động)",
        "p-unknown (Sở Giáo dục và Đào tạo)",  # a person this service has not read yet: their id, not nothing
    ]
    assert [s.by.kind if s.by else None for s in named] == ["person", "machine", "system", "person"]
