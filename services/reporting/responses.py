"""The JSON bodies of the reporting routes, typed: each route declares its model (``response_model``) and
writes it with ``json_response``; the exports (table, CSV, XLSX, DOCX) and ``dondoc report`` read the
same models, so a renamed field is a type error in every reader, not a missing key at run time.

The field names and their order are the JSON's, which the dashboard (static/app.js), the CLI and
other readers were written against: a change here is a change of the API.

Rows read from the database stay the frozen dataclasses the reads return (catalog.py, queries/), held
in these models as they are: a list of a thousand overdue tasks is neither copied nor validated again.
"""

from __future__ import annotations

from datetime import date

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from services.reporting.catalog import Document, FoundTask, TreeAgency, TreeNode
from services.reporting.domain import AgeingBand, Change, Figures
from services.reporting.iso import IsoDatetime
from services.reporting.queries.overdue import OverdueTask
from services.reporting.queries.withdrawn import WithdrawnTask


class Body(BaseModel):
    """A route's body: read by alias (``from``) or by name, written by alias."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)


def json_response(body: BaseModel) -> Response:
    """The body as JSON, written by pydantic's own serializer: FastAPI's generic path (dump, validate the
    dump again, encode) costs more than the whole query for a summary."""
    return Response(body.__pydantic_serializer__.to_json(body), media_type="application/json")


# --- GET /v1/reports/summary -------------------------------------------------------------------------


class Adjusted(Body):
    """Figures of a closed moment that a fact recorded later changed (queries/ledger.py ``note``)."""

    closed_at: str
    tasks: int
    note_vi: str


class ReportFilters(Body):
    agency_id: str | None
    lead_only: bool
    document: str | None
    start: str | None = Field(alias="from")
    end: str | None = Field(alias="to")
    as_recorded: bool


class Previous(Body):
    """What the figures are compared with: a month earlier, or the period before."""

    basis: str  # "month" or "period"
    as_of: str
    start: str | None = Field(alias="from")
    end: str | None = Field(alias="to")
    figures: Figures
    key_tasks: Figures


class Head(Body):
    person_id: str
    name: str | None
    title: str | None


class AgencyRow(Body):
    """One row of the breakdown by agency: a child's subtree, or the parent's own tasks (``own``)."""

    agency_id: str
    name: str
    short_name: str
    own: bool
    head: Head | None
    figures: Figures


class Parent(Body):
    agency_id: str | None
    name: str


class ByAgency(Body):
    parent: Parent
    rows: list[AgencyRow]


class DocumentRow(Body):
    document: str
    issued_on: date | None
    issuer: str
    rows_listed: int  # the rows the document lists
    lead_assignments: int  # the lead assignments they became (a row naming several leads is one per lead)
    figures: Figures
    completed_percent: float


class OverdueList(Body):
    total: int
    shown: int
    items: list[OverdueTask]


class WithdrawnList(Body):
    total: int
    items: list[WithdrawnTask]


class ReportBody(Body):
    """GET /v1/reports/summary: the working group's figures for one set of filters at one moment."""

    as_of: str
    date: str
    live: bool
    as_recorded: bool = False  # a body written before the recorded axis existed has neither of these
    adjusted: Adjusted | None = None
    scope: str
    filters: ReportFilters
    figures: Figures
    key_tasks: Figures
    previous: Previous
    change: Change
    ageing: list[AgeingBand]
    by_agency: ByAgency
    by_document: list[DocumentRow]
    overdue: OverdueList
    withdrawn: WithdrawnList
    paragraph_vi: str
    labels_vi: dict[str, str]
    colours: dict[str, str]


# --- GET /v1/reports/trend ---------------------------------------------------------------------------


class TrendPoint(Body):
    month: str  # YYYY-MM
    as_of: str
    figures: Figures
    adjusted: Adjusted | None


class Trend(Body):
    as_of: str
    points: list[TrendPoint]


# --- what the dashboard's filters and pickers read ---------------------------------------------------


class AgencyTree(Body):
    agencies: list[TreeAgency]


class Documents(Body):
    documents: list[Document]


class FoundTasks(Body):
    tasks: list[FoundTask]


class HiddenNode(Body):
    """A secret task of a delegation tree the viewer is not involved in: its place only (runtime/access.py)."""

    depth: int
    task_id: str  # "hidden-<n>": its place in this answer
    parent_task_id: str | None
    code: str = "(mật)"
    title: str = "Nhiệm vụ mật"
    document: None = None
    classification: str = "mat"
    assigning_agency_id: None = None
    lead_agency_id: None = None
    lead_agency_name: None = None
    assigning_agency_name: None = None
    coordinating_agency_ids: list[str] = Field(default_factory=list)
    officer_in_charge_id: None = None
    officer_name: None = None
    bucket: None = None
    due: None = None
    original_due: None = None
    deadline_text: None = None
    percent: None = None
    completed_on: None = None
    on_time: None = None
    key_task: bool = False
    hidden: bool = True


class DelegationTree(Body):
    task_id: str
    nodes: list[TreeNode | HiddenNode]


class PublishedReport(Body):
    month: str
    event_id: str
    published_at: IsoDatetime


class PublishedReports(Body):
    reports: list[PublishedReport]


class Decision(Body):
    number: str
    issued_on: str
    issuer: str


class Reorganisation(Body):
    """A decision that moved public tasks from one agency to another."""

    reorganisation_id: str
    from_agency_id: str
    to_agency_id: str
    tasks: int
    decision: Decision
    effective_on: str
    old_structure_as_of: str  # the last day the old structure held: the as_of that reads it
    from_name: str
    to_name: str


class Reorganisations(Body):
    reorganisations: list[Reorganisation]


class SignIn(Body):
    enabled: bool
    issuer: str
    client_id: str


class DashboardConfig(Body):
    alerts_url: str
    now: str
    sign_in: SignIn


RelayedRow = dict[str, JsonValue]
"""A row as the service that owns it wrote it (progress, assignment, audit): relayed, not re-typed here."""


class Worklist(Body):
    person_id: str | None
    mine: list[RelayedRow]
    to_decide: list[RelayedRow]
    extensions: list[RelayedRow]


class StepActor(Body):
    """Who took a step, in words (dashboard_actions.name_actors)."""

    kind: str  # "person", "machine" (an agency's system) or "system" (dondoc itself)
    name: str
    agency: str
    text: str


class HistoryStep(Body):
    """A step of a task's history as the audit service gave it, with who took it."""

    seq: int
    event_type: str | None
    occurred_at: str | None
    actor: RelayedRow
    payload: RelayedRow
    by: StepActor | None = None


class TaskHistory(Body):
    task_id: str
    steps: list[HistoryStep]
