"""Whose tasks a request reads: the WHERE of the history or task rows for a filter, and the label of
each row's group in a breakdown."""

from __future__ import annotations

from services.reporting.queries.filters import AgencyGroups, Filters, Grouping
from services.reporting.queries.sql import Sql


def scope_condition(f: Filters, q: Sql, *, lead: str, parent_lead: str, delegated: str) -> str:
    """Whose tasks: the delegation rule of the store — a child task counts where its parent does not."""
    if f.agency_id:
        subtree = f"(SELECT agency_id FROM agency_tree WHERE ancestor_id = {q(f.agency_id)})"
        outside = f"({parent_lead} IS NULL OR {parent_lead} NOT IN {subtree})"
        if f.lead_only:
            return f"{lead} = {q(f.agency_id)} AND {outside}"
        return f"{lead} IN {subtree} AND {outside}"
    return f"NOT {delegated}"


def task_scope(f: Filters, q: Sql) -> str:
    """``scope_condition`` over the current task rows (``tasks t``)."""
    return scope_condition(
        f,
        q,
        lead="t.lead_agency_id",
        parent_lead="t.parent_lead_agency_id",
        delegated="(t.parent_task_id IS NOT NULL)",
    )


def history_filters(f: Filters, q: Sql, *, secret: bool, scoped: bool = True) -> str:
    parts = []
    if scoped:
        parts.append(
            scope_condition(f, q, lead="h.lead_agency_id", parent_lead="h.parent_lead", delegated="h.delegated")
        )
    if f.document:
        parts.append(f"h.document = {q(f.document)}")
    if f.start:
        parts.append(f"h.assigned_on >= {q(f.start)}")
    if f.end:
        parts.append(f"h.assigned_on <= {q(f.end)}")
    # The containment operator is the one the partial GIN index on secret rows answers.
    parts.append(f"h.secret AND h.involved @> ARRAY[{q(f.viewer)}]::text[]" if secret else "NOT h.secret")
    return " AND ".join(parts)


def group_parts(grouping: Grouping, groups: AgencyGroups | None, q: Sql) -> list[tuple[str, str, str]]:
    """(select expression, join, extra condition) per part of the query that labels each history row
    with its group.

    Per agency, the rows partition the view they break down, so they add up to it: under a parent,
    a child's row is the tasks of the parent's subtree view led in the child's subtree, the parent's
    own row those it leads itself; for the whole tree (several roots), each root's row is the whole
    tree's tasks led in its subtree.
    """
    if grouping == "document":
        return [("h.document", "", "")]
    if grouping != "agency":
        return [("NULL::text", "", "")]
    assert groups is not None
    parts = []
    if groups.parent is None:
        view = "AND NOT h.delegated"
    else:
        parent = q(groups.parent)
        view = (
            f"AND (h.parent_lead IS NULL OR h.parent_lead NOT IN "
            f"(SELECT agency_id FROM agency_tree WHERE ancestor_id = {parent}))"
        )
        if groups.own:
            parts.append((f"{parent}::text", "", f"AND h.lead_agency_id = {parent} {view}"))
    if groups.children:
        join = (
            "JOIN agency_tree t ON t.agency_id = h.lead_agency_id "
            f"AND t.ancestor_id = ANY({q(list(groups.children))}::text[])"
        )
        parts.append(("t.ancestor_id", join, view))
    return parts
