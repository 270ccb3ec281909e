"""A realistic backlog for ``dondoc bench ingest``: the directory, then tasks living their lives.

The shape follows what a province's import morning looks like: a tree of agencies with their heads
and officers, then tasks assigned from a handful of documents, some delegated down a level, most
reported on, a third completed (some confirmed), a few extended or withdrawn. Deterministic for a
seed, so two runs publish the same log. Deadlines lie years ahead, so no timer fires while the bench
runs and every service does only the work the events ask for.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from events.clock import VN_TZ
from events.deadlines.parsing import parse_deadline_or_date
from events.directory import AgencyChanged, PersonChanged
from events.envelope import Actor, Envelope, EventPayload, new_envelope
from events.progress import CompletionReported
from events.tasks import (
    DeadlineExtended,
    ProgressReported,
    SourceDocument,
    TaskAssigned,
    TaskCompleted,
    TaskWithdrawn,
)

START = datetime(2031, 3, 2, 8, 0, tzinfo=VN_TZ)  # a domain morning far from any real data
GOVERNMENT = "bench-cp"
DOCUMENTS = tuple(
    SourceDocument(number=f"{n}/NQ-BENCH", issued_on=date(2031, 1, 2 + n), issuer="Chính phủ") for n in range(1, 9)
)


def _agencies(rng: random.Random) -> list[tuple[str, str | None, str]]:
    """(agency id, parent id, level): the government, ten ministries and provinces, five units each."""
    tree: list[tuple[str, str | None, str]] = [(GOVERNMENT, None, "chinh-phu")]
    for top in range(10):
        top_id = f"bench-tinh-{top}"
        tree.append((top_id, GOVERNMENT, "ubnd-tinh" if top % 2 else "bo-nganh"))
        tree.extend((f"{top_id}-so-{unit}", top_id, "so-nganh") for unit in range(5))
    rng.shuffle(tree[1:])  # the directory arrives in no particular order; the services cope
    return tree


class _Log:
    """Envelopes in publication order, with a clock that moves a little with each one."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []
        self.at = START

    def add(self, payload: EventPayload, actor: str, task_id: str | None = None) -> None:
        self.at += timedelta(seconds=7)
        self.events.append(
            new_envelope(
                payload,
                event_id=uuid.uuid4(),
                occurred_at=self.at,
                producer="directory" if task_id is None else "assignment",
                actor=Actor(agency_id=actor),
                task_id=task_id,
            )
        )


def backlog(total: int, seed: int = 14) -> list[Envelope]:
    """About ``total`` events: the directory first, then tasks until the total is reached."""
    rng = random.Random(seed)
    log = _Log()
    agencies = _agencies(rng)
    for version, (agency_id, parent_id, level) in enumerate(agencies, start=1):
        log.add(
            AgencyChanged(
                agency_id=agency_id, name=f"Cơ quan {agency_id}", level=level, parent_id=parent_id, version=version
            ),
            GOVERNMENT,
        )
        log.add(
            PersonChanged(
                person_id=f"{agency_id}-truong",
                agency_id=agency_id,
                full_name=f"Thủ trưởng {agency_id}",
                role="head",
                version=1,
            ),
            GOVERNMENT,
        )
    leads = [a for a, parent, _ in agencies if parent is not None]
    units = {parent: [a for a, p, _ in agencies if p == parent] for _, parent, _ in agencies if parent}
    tasks = 0
    pending: list[Iterator[tuple[EventPayload, str, str]]] = []
    while len(log.events) < total:
        # New tasks keep arriving while earlier ones are reported on: their events interleave in the log.
        if not pending or rng.random() < 0.35:
            tasks += 1
            pending.append(_life(rng, f"bench-{seed}-{tasks}", leads, units))
        life = rng.choice(pending)
        step = next(life, None)
        if step is None:
            pending.remove(life)
            continue
        payload, actor, task_id = step
        log.add(payload, actor, task_id)
    return log.events[:total]


def _life(
    rng: random.Random, task_id: str, leads: list[str], units: dict[str, list[str]]
) -> Iterator[tuple[EventPayload, str, str]]:
    """One task's events, in their order: assigned, perhaps delegated, reported on, completed…"""
    document = rng.choice(DOCUMENTS)
    lead = rng.choice(leads)
    due = date(2033, 1, 1) + timedelta(days=rng.randrange(700))
    no_deadline = rng.random() < 0.1
    deadline = parse_deadline_or_date("thường xuyên" if no_deadline else due.isoformat(), document.issued_on)
    yield (
        TaskAssigned(
            code=f"{document.number}#{task_id}",
            title=f"Nhiệm vụ {task_id}: triển khai nghị quyết",
            source_document=document,
            assigning_agency_id=GOVERNMENT,
            lead_agency_id=lead,
            coordinating_agency_ids=tuple(rng.sample(leads, 2)),
            officer_in_charge_id=f"{lead}-truong",
            deadline=deadline,
            key_task=rng.random() < 0.2,
        ),
        GOVERNMENT,
        task_id,
    )
    children = units.get(lead, [])
    if children and rng.random() < 0.15:
        child = f"{task_id}-c"
        child_lead = rng.choice(children)
        yield (
            TaskAssigned(
                code=f"{document.number}#{child}",
                title=f"Nhiệm vụ {child}: phần được giao lại",
                source_document=document,
                assigning_agency_id=lead,
                lead_agency_id=child_lead,
                officer_in_charge_id=f"{child_lead}-truong",
                deadline=deadline,
                parent_task_id=task_id,
            ),
            lead,
            child,
        )
    for percent in sorted(rng.sample(range(10, 100, 10), rng.randrange(3))):
        yield ProgressReported(percent=percent, note="Đang triển khai"), lead, task_id
    if not no_deadline and rng.random() < 0.1:
        due += timedelta(days=30)
        yield (
            DeadlineExtended(
                request_id=f"{task_id}-gh",
                decided_by_agency_id=GOVERNMENT,
                previous_due=due - timedelta(days=30),
                due=due,
                deadline=parse_deadline_or_date(due.isoformat(), document.issued_on),
                original_due=due - timedelta(days=30),
            ),
            GOVERNMENT,
            task_id,
        )
    if rng.random() < 0.03:
        yield TaskWithdrawn(withdrawn_by_agency_id=GOVERNMENT, reason="Không còn phù hợp"), GOVERNMENT, task_id
        return
    if rng.random() < 0.35:
        reported_on = date(2031, 6, 1) + timedelta(days=rng.randrange(300))
        on_time = None if no_deadline else reported_on <= due
        in_force = None if no_deadline else due
        yield (
            CompletionReported(
                reported_on=reported_on, deadline_in_force=in_force, on_time=on_time, product="Báo cáo kết quả"
            ),
            lead,
            task_id,
        )
        if rng.random() < 0.5:
            yield (
                TaskCompleted(
                    reported_on=reported_on, deadline_in_force=in_force, on_time=on_time, product="Báo cáo kết quả"
                ),
                GOVERNMENT,
                task_id,
            )
