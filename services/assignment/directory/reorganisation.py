"""A reorganisation decision and what it does to open tasks (DESIGN §4 "Reorganisation"). Pure, no I/O.

One decision (its document number and date) merges, splits or abolishes agencies, naming for each its
successor(s). Every open task of an abolished agency — as lead or as coordinating agency, at any level of
a cascade — moves to a successor; its history, deadlines and extensions stay. In a split the decision
may say which successor takes which open task; a task it does not name goes to the first successor and is
listed as still to be decided, so nothing is left without an agency and nothing is silently placed.

Completed and withdrawn tasks do not move: they stay credited to the agency that did (or was asked) them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from events.envelope import Frozen
from events.limits import REORGANISED_AGENCIES_MAX, TASK_SHARES_MAX, Id, IdList, Text
from events.tasks import SourceDocument, TaskTransferred, TransferredRole, parties_after
from services.assignment.directory.model import AgencyRecord
from services.runtime.refusals import Refused, conflict, not_found

ReorganisationKind = Literal["merge", "split", "abolish"]


class TaskShare(Frozen):
    """In a split: this open task goes to this successor."""

    task_id: Id
    successor_id: Id


class AbolishedAgency(Frozen):
    agency_id: Id
    successor_id: Id = Field(description="Takes every open task the shares do not give to another successor")
    other_successor_ids: IdList = Field((), description="A split's other successors")
    shares: tuple[TaskShare, ...] = Field((), max_length=TASK_SHARES_MAX)


class ReorganisationFields(Frozen):
    """The body of PUT /v1/directory/reorganisations/{reorganisation_id}."""

    kind: ReorganisationKind
    decision: SourceDocument = Field(description="The decision: number, date, issuer (e.g. 202/2025/QH15)")
    effective_on: date = Field(description="The day the successors take over (the new structure works)")
    agencies: tuple[AbolishedAgency, ...] = Field(min_length=1, max_length=REORGANISED_AGENCIES_MAX)
    note: Text = ""

    @model_validator(mode="after")
    def _shape(self) -> ReorganisationFields:
        for a in self.agencies:
            if self.kind == "split" and not a.other_successor_ids:
                raise ValueError(f"a split names at least two successors of {a.agency_id}")
            if self.kind != "split" and (a.other_successor_ids or a.shares):
                raise ValueError(f"only a split names other successors or shares of tasks ({a.agency_id})")
        if len({a.agency_id for a in self.agencies}) != len(self.agencies):
            raise ValueError("an agency is named twice in one decision")
        return self


@dataclass(frozen=True)
class OpenTask:
    task_id: str
    lead_agency_id: str
    coordinating_agency_ids: tuple[str, ...]


@dataclass(frozen=True)
class Transfer:
    task_id: str
    role: TransferredRole
    from_agency_id: str
    to_agency_id: str


@dataclass(frozen=True)
class Plan:
    transfers: tuple[Transfer, ...]
    undecided: tuple[str, ...]  # split tasks no share named: with the first successor until decided

    def moved_task_ids(self) -> list[str]:
        return sorted({t.task_id for t in self.transfers})


def check(
    fields: ReorganisationFields,
    agencies: Mapping[str, AgencyRecord],
    chains: Mapping[str, Sequence[str]],
    today: date,
) -> None:
    """Refuse a decision that cannot hold: in the future, unknown or already abolished agencies, a successor
    that is abolished itself or lies inside the agency it succeeds."""
    decision = fields.decision
    if decision.issued_on > today:
        raise Refused(
            "decision-in-future",
            f"the decision {decision.number} is dated {decision.issued_on:%d/%m/%Y}, after today "
            f"({today:%d/%m/%Y}); record it on or after its date",
            f"Quyết định {decision.number} ngày {decision.issued_on:%d/%m/%Y} sau ngày hôm nay "
            f"({today:%d/%m/%Y}); chỉ ghi nhận từ ngày ban hành",
        )
    if fields.effective_on > today:
        raise Refused(
            "effective-in-future",
            f"the new structure works from {fields.effective_on:%d/%m/%Y}, after today ({today:%d/%m/%Y}): "
            "open tasks move on that day, so apply the decision then",
            f"Cơ cấu mới hoạt động từ ngày {fields.effective_on:%d/%m/%Y}, sau ngày hôm nay "
            f"({today:%d/%m/%Y}): nhiệm vụ chỉ chuyển từ ngày đó, hãy áp dụng quyết định khi đến ngày",
        )
    if fields.effective_on < decision.issued_on:
        raise Refused(
            "effective-before-decision",
            f"the decision takes effect ({fields.effective_on:%d/%m/%Y}) before it was issued "
            f"({decision.issued_on:%d/%m/%Y})",
            f"Ngày có hiệu lực ({fields.effective_on:%d/%m/%Y}) trước ngày ban hành quyết định "
            f"({decision.issued_on:%d/%m/%Y})",
        )
    abolished = {a.agency_id for a in fields.agencies}
    named = sorted(abolished | {s for a in fields.agencies for s in successors(a)})
    if missing := [i for i in named if i not in agencies]:
        raise not_found("agency", "cơ quan", ", ".join(missing), "unknown-agency")
    for a in fields.agencies:
        if not agencies[a.agency_id].active:
            raise conflict(
                "agency-already-abolished",
                f"{a.agency_id} is already abolished (successor {agencies[a.agency_id].successor_id or '?'})",
                f"{agencies[a.agency_id].name} đã giải thể/sáp nhập trước đó "
                f"(cơ quan kế thừa: {agencies[a.agency_id].successor_id or '?'})",
            )
        for s in successors(a):
            if s in abolished or not agencies[s].active:
                raise Refused(
                    "successor-abolished",
                    f"the successor {s} of {a.agency_id} is abolished itself; name the agency that succeeds it",
                    f"Cơ quan kế thừa {agencies[s].name} của {agencies[a.agency_id].name} cũng không còn "
                    "hoạt động; hãy chỉ định cơ quan kế thừa hiện hành",
                )
            if a.agency_id in chains.get(s, ()):
                raise Refused(
                    "successor-inside-abolished",
                    f"the successor {s} lies inside {a.agency_id}, which is abolished",
                    f"Cơ quan kế thừa {agencies[s].name} trực thuộc chính cơ quan bị giải thể "
                    f"{agencies[a.agency_id].name}",
                )
        if len(set(successors(a))) != len(successors(a)):
            raise Refused(
                "successor-twice",
                f"a successor of {a.agency_id} is named twice",
                f"Một cơ quan kế thừa của {agencies[a.agency_id].name} được nêu hai lần",
            )


def successors(agency: AbolishedAgency) -> tuple[str, ...]:
    return (agency.successor_id, *agency.other_successor_ids)


def plan(fields: ReorganisationFields, open_tasks: Sequence[OpenTask]) -> Plan:
    """Which open task moves from which agency to which successor, in which role."""
    transfers: list[Transfer] = []
    undecided: list[str] = []
    for agency in fields.agencies:
        old = agency.agency_id
        own = {t.task_id: t for t in open_tasks if old == t.lead_agency_id or old in t.coordinating_agency_ids}
        shares: dict[str, str] = {}
        for share in agency.shares:
            if share.task_id not in own:
                raise Refused(
                    "not-an-open-task",
                    f"{share.task_id} is not an open task of {old}: only open tasks move",
                    f"{share.task_id} không phải nhiệm vụ đang thực hiện của {old}: chỉ nhiệm vụ chưa hoàn "
                    "thành mới được chuyển",
                )
            if share.successor_id not in successors(agency):
                raise Refused(
                    "not-a-successor",
                    f"{share.successor_id} is not named as a successor of {old}",
                    f"{share.successor_id} không phải cơ quan kế thừa của {old} theo quyết định",
                )
            shares[share.task_id] = share.successor_id
        for task_id in sorted(own):
            task = own[task_id]
            to = shares.get(task_id, agency.successor_id)
            if fields.kind == "split" and task_id not in shares:
                undecided.append(task_id)
            role: TransferredRole = "chu-tri" if task.lead_agency_id == old else "phoi-hop"
            transfers.append(Transfer(task_id, role, old, to))
    return Plan(tuple(transfers), tuple(undecided))


def after(
    task: OpenTask, fields: ReorganisationFields, reorganisation_id: str, transfers: Sequence[Transfer]
) -> OpenTask:
    """The task's parties once these transfers hold (events/tasks.py ``parties_after``, as every service)."""
    lead, coordinating = task.lead_agency_id, task.coordinating_agency_ids
    for t in transfers:
        if t.task_id == task.task_id:
            lead, coordinating, _ = parties_after(lead, coordinating, None, event_of(t, fields, reorganisation_id))
    return OpenTask(task.task_id, lead, coordinating)


def event_of(transfer: Transfer, fields: ReorganisationFields, reorganisation_id: str) -> TaskTransferred:
    return TaskTransferred(
        reorganisation_id=reorganisation_id,
        decision=fields.decision,
        effective_on=fields.effective_on,
        from_agency_id=transfer.from_agency_id,
        to_agency_id=transfer.to_agency_id,
        role=transfer.role,
    )
