"""The reorganisation rule (services/assignment/directory/reorganisation.py): which open tasks move where,
and which decisions are refused, with a reason in English and Vietnamese."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from events.tasks import SourceDocument, TaskTransferred, parties_after
from services.assignment.directory.model import AgencyRecord
from services.assignment.directory.reorganisation import (
    OpenTask,
    ReorganisationFields,
    after,
    check,
    plan,
)
from services.runtime.refusals import Refused

NQ_202 = SourceDocument(number="202/2025/QH15", issued_on=date(2025, 6, 12), issuer="Quốc hội")
TODAY = date(2025, 7, 15)


def _agency(agency_id: str, parent: str | None = "cp", *, active: bool = True) -> AgencyRecord:
    return AgencyRecord(agency_id=agency_id, name=agency_id.upper(), level="ubnd-tinh", parent_id=parent, active=active)


AGENCIES = {a.agency_id: a for a in (_agency("cp", None), _agency("bd"), _agency("gl"), _agency("kt"))}
CHAINS = {a: [a, "cp"] if a != "cp" else ["cp"] for a in AGENCIES}


def _merge(**overrides: object) -> ReorganisationFields:
    body: dict[str, object] = {
        "kind": "merge",
        "decision": NQ_202.model_dump(mode="json"),
        "effective_on": "2025-07-01",
        "agencies": [{"agency_id": "bd", "successor_id": "gl"}],
    }
    return ReorganisationFields.model_validate({**body, **overrides})


def _split(*shares: tuple[str, str]) -> ReorganisationFields:
    """Bình Định split between gl (first successor) and kt; ``shares``: (task, successor)."""
    agency = {
        "agency_id": "bd",
        "successor_id": "gl",
        "other_successor_ids": ["kt"],
        "shares": [{"task_id": t, "successor_id": s} for t, s in shares],
    }
    return _merge(kind="split", agencies=[agency])


def _refusal(
    fields: ReorganisationFields, agencies: dict[str, AgencyRecord] = AGENCIES, today: date = TODAY
) -> Refused:
    with pytest.raises(Refused) as caught:
        check(fields, agencies, CHAINS, today)
    assert caught.value.message_en and caught.value.message_vi
    return caught.value


def test_a_merge_moves_every_open_task_the_old_agency_leads_or_coordinates() -> None:
    tasks = [
        OpenTask("t1", "bd", ()),
        OpenTask("t2", "kt", ("bd", "gl")),
        OpenTask("t3", "kt", ()),  # not bd's: stays
    ]
    moved = plan(_merge(), tasks)
    assert [(t.task_id, t.role, t.from_agency_id, t.to_agency_id) for t in moved.transfers] == [
        ("t1", "chu-tri", "bd", "gl"),
        ("t2", "phoi-hop", "bd", "gl"),
    ]
    assert moved.undecided == ()


def test_a_coordinator_merged_into_another_coordinator_is_listed_once() -> None:
    fields = _merge()
    task = OpenTask("t2", "kt", ("bd", "gl"))
    assert after(task, fields, "r", plan(fields, [task]).transfers).coordinating_agency_ids == ("gl",)


def test_a_coordinator_merged_into_the_lead_is_no_longer_coordinating() -> None:
    fields = _merge()
    task = OpenTask("t", "gl", ("bd",))
    assert after(task, fields, "r", plan(fields, [task]).transfers) == OpenTask("t", "gl", ())


def test_a_new_lead_has_no_officer_until_its_head_names_one() -> None:
    event = TaskTransferred(
        reorganisation_id="r",
        decision=NQ_202,
        effective_on=date(2025, 7, 1),
        from_agency_id="bd",
        to_agency_id="gl",
        role="chu-tri",
    )
    assert parties_after("bd", ("kt",), "p-bd-officer", event) == ("gl", ("kt",), None)
    coordinating = event.model_copy(update={"role": "phoi-hop"})
    assert parties_after("kt", ("bd",), "p-kt-officer", coordinating) == ("kt", ("gl",), "p-kt-officer")


def test_a_split_gives_named_tasks_to_their_successor_and_lists_the_rest_for_a_decision() -> None:
    fields = _split(("t2", "kt"))
    moved = plan(fields, [OpenTask("t1", "bd", ()), OpenTask("t2", "bd", ())])
    assert {t.task_id: t.to_agency_id for t in moved.transfers} == {"t1": "gl", "t2": "kt"}
    assert moved.undecided == ("t1",)


def test_a_split_share_naming_a_task_that_is_not_open_is_refused() -> None:
    fields = _split(("done", "kt"))
    with pytest.raises(Refused) as caught:
        plan(fields, [OpenTask("t1", "bd", ())])
    assert caught.value.code == "not-an-open-task"


def test_a_split_share_to_an_agency_the_decision_does_not_name_is_refused() -> None:
    fields = _split(("t1", "cp"))
    with pytest.raises(Refused) as caught:
        plan(fields, [OpenTask("t1", "bd", ())])
    assert caught.value.code == "not-a-successor"


def test_a_split_names_at_least_two_successors_and_only_a_split_names_shares() -> None:
    with pytest.raises(ValidationError, match="at least two successors"):
        _merge(kind="split")
    with pytest.raises(ValidationError, match="only a split"):
        _merge(agencies=[{"agency_id": "bd", "successor_id": "gl", "other_successor_ids": ["kt"]}])


def test_a_decision_dated_in_the_future_is_refused() -> None:
    assert _refusal(_merge(), today=date(2025, 6, 1)).code == "decision-in-future"


def test_a_decision_whose_new_structure_works_later_is_applied_on_that_day_not_before() -> None:
    assert _refusal(_merge(), today=date(2025, 6, 20)).code == "effective-in-future"


def test_a_decision_taking_effect_before_it_was_issued_is_refused() -> None:
    assert _refusal(_merge(effective_on="2025-06-01")).code == "effective-before-decision"


def test_an_unknown_agency_is_refused_by_name() -> None:
    refusal = _refusal(_merge(agencies=[{"agency_id": "bd", "successor_id": "nowhere"}]))
    assert refusal.code == "unknown-agency" and "nowhere" in refusal.message_en


def test_an_abolished_successor_is_refused() -> None:
    agencies = {**AGENCIES, "kt": _agency("kt", active=False)}
    refusal = _refusal(_merge(agencies=[{"agency_id": "bd", "successor_id": "kt"}]), agencies)
    assert refusal.code == "successor-abolished"


def test_a_successor_abolished_by_the_same_decision_is_refused() -> None:
    fields = _merge(agencies=[{"agency_id": "bd", "successor_id": "gl"}, {"agency_id": "gl", "successor_id": "kt"}])
    assert _refusal(fields).code == "successor-abolished"


def test_an_agency_already_abolished_is_not_abolished_again() -> None:
    agencies = {**AGENCIES, "bd": _agency("bd", active=False)}
    assert _refusal(_merge(), agencies).code == "agency-already-abolished"


def test_a_successor_inside_the_abolished_agency_is_refused() -> None:
    agencies = {**AGENCIES, "bd-so": _agency("bd-so", "bd")}
    chains = {**CHAINS, "bd-so": ["bd-so", "bd", "cp"]}
    with pytest.raises(Refused) as caught:
        check(_merge(agencies=[{"agency_id": "bd", "successor_id": "bd-so"}]), agencies, chains, TODAY)
    assert caught.value.code == "successor-inside-abolished"


def test_a_decision_names_each_agency_once_and_at_most_a_bounded_number() -> None:
    with pytest.raises(ValidationError, match="named twice"):
        _merge(agencies=[{"agency_id": "bd", "successor_id": "gl"}] * 2)
    with pytest.raises(ValidationError, match="at most 100"):
        _merge(agencies=[{"agency_id": f"a{i}", "successor_id": "gl"} for i in range(101)])


def test_a_valid_merge_passes_the_checks() -> None:
    check(_merge(), AGENCIES, CHAINS, TODAY)


def test_the_demo_fixture_of_the_2025_merger_reads_as_a_decision_its_directory_and_tasks() -> None:
    from services.assignment.directory.model import DirectoryDocument
    from services.assignment.tasks.commands import AssignTask
    from services.cli.demo import REORGANISATION_2025, RESOLUTION

    data = json.loads(REORGANISATION_2025.read_text(encoding="utf-8"))
    fields = ReorganisationFields.model_validate(data["decision"])
    assert (fields.decision.number, fields.effective_on) == ("202/2025/QH15", date(2025, 7, 1))
    assert [(a.agency_id, a.successor_id) for a in fields.agencies] == [("ubnd-bd", "ubnd-gia-lai")]
    directory = DirectoryDocument.model_validate(data["directory"])
    assert [a.name for a in directory.agencies] == ["Ủy ban nhân dân tỉnh Gia Lai"]
    assert any("Unsure" in note for note in data["notes"])  # what is not verified is said
    for task in data["tasks_before"]["tasks"]:
        AssignTask(source_document=RESOLUTION, assigning_agency_id="cp", lead_agency_id="ubnd-bd", **task)
