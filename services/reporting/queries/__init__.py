"""Reads of the reporting read model: how many tasks were in each state (``domain.STATES``) at a moment.

Two ways to the same numbers (tests/integration/test_report_paths.py checks they agree on random
histories, at random moments, for every scope):

* **Journal** (``journal``, ``day_sums``) — the whole tree, one source document, or the subtree of an
  agency of the top two levels (the government, a ministry, a province), without a period: the tally
  at the end of the moment's day is ``live`` (the journal summed up to ``live_day``) plus or minus the
  journal's days in between, or for a day far from it the journal summed up to that day by years,
  months and days. What happened later on the moment's own day is then taken back out from the
  history rows of that day (for "now", normally nothing). The cost is a handful of rows per scope,
  whatever the number of tasks.
* **History** (``history``) — anything else (a period of assignment, an agency *and* a document, one
  agency's own tasks, a smaller subtree): the history rows valid at the moment, filtered by indexes on
  the lead agency, the document or the assignment date. Exact for any filter; its cost grows with the
  tasks it filters, which for these filters are few.

``figures`` chooses the path (``breakdowns`` for each row of a per-agency or per-document breakdown).
Secret tasks (classification ``mat``) are in no journal and in no public query: the tasks the viewing
agency is involved in are added by a history query of their own.

The overdue and withdrawn lists (``overdue``, ``withdrawn``) read the task rows, or for a past moment
the history rows.
"""

from services.reporting.queries.figures import counts_at, counts_at_moments
from services.reporting.queries.filters import AgencyGroups, Filters
from services.reporting.queries.overdue import overdue_tasks
from services.reporting.queries.snapshot import Memo
from services.reporting.queries.tally import Tally
from services.reporting.queries.withdrawn import withdrawn_tasks

__all__ = [
    "AgencyGroups",
    "Filters",
    "Memo",
    "Tally",
    "counts_at",
    "counts_at_moments",
    "overdue_tasks",
    "withdrawn_tasks",
]
