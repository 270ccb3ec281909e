"""Who may see a task and what an agency may grant: the access rule, written once (DESIGN §4).

* **Secrecy.** A task is public (công khai, nội bộ) or secret (mật). A public task is shown to
  anyone the route admits; a secret one only to the agencies involved in it (the assigning agency,
  the lead, the coordinating agencies). A classification that is unknown (not read yet, missing,
  or a value this code does not know) is secret: the rule fails closed. ``may_see`` is the rule in
  Python, ``visible_sql`` the same rule as a SQL condition for queries that filter many rows.
* **Hiding.** Where a secret task must keep its place (a delegation tree), it is shown without its
  id, code, title or agencies; a refusal about a secret task names none of them either (a task the
  caller may not see answers exactly as a task that does not exist).
* **Authority.** An agency assigns to its subtree (never to itself) and, elsewhere, only along its
  ``can_assign_to`` edges (``may_assign``); what it grants another agency (``can_assign_to`` in
  the directory) never exceeds that (``beyond_authority``).

Who is asking is a ``Principal``: today an agency's token; it carries an optional person and roles
so that person sign-in can add a role dimension without changing the rule's callers.
The table proving every route applies the rule: tests/integration/test_authorization_matrix.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from events.roles import PERMISSIONS, Action, may
from services.runtime.refusals import Refused

PUBLIC_CLASSIFICATIONS = ("cong-khai", "noi-bo")
"""The classifications shown to anyone; every other value, and none, is secret."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: an agency (its token's), and later a person with roles."""

    agency_id: str
    token_id: str
    person_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)


def is_secret(classification: str | None) -> bool:
    return classification not in PUBLIC_CLASSIFICATIONS


def involved(assigning_agency_id: str | None, lead_agency_id: str | None, coordinating: Iterable[str] = ()) -> set[str]:
    """The agencies involved in a task: the assigner, the lead and the coordinating agencies."""
    return {a for a in (assigning_agency_id, lead_agency_id, *coordinating) if a}


def may_see(classification: str | None, parties: Collection[str], viewer: str | None) -> bool:
    """The secrecy rule: public to anyone, secret only to an agency involved (``viewer``: an agency id)."""
    return not is_secret(classification) or (viewer is not None and viewer in parties)


def viewer_of(principal: Principal | None) -> str | None:
    return principal.agency_id if principal else None


def visible_sql(viewer: str, alias: str = "") -> str:
    """``may_see`` as a SQL condition on a row of a task table with the usual columns (classification,
    assigning_agency_id, lead_agency_id, coordinating_agency_ids). ``viewer`` is a SQL expression (a
    parameter such as ``$2`` or a quoted literal) holding the agency id, NULL for nobody."""
    t = f"{alias}." if alias else ""
    public = ", ".join(f"'{c}'" for c in PUBLIC_CLASSIFICATIONS)
    parties = f"ARRAY[{t}assigning_agency_id, {t}lead_agency_id] || {t}coordinating_agency_ids"
    return f"coalesce({t}classification IN ({public}) OR ({viewer})::text = ANY({parties}), false)"


def may_assign(assigner: str, target_chain: Sequence[str], assigner_edges: Collection[str]) -> bool:
    """An agency assigns to its subtree (never to itself), and elsewhere only along its can_assign_to edges.

    ``target_chain`` is the target, its parent, … up to the root.
    """
    target = target_chain[0]
    return target != assigner and (assigner in target_chain[1:] or target in assigner_edges)


def beyond_authority(
    granter: str, granter_edges: Collection[str], granted: Iterable[str], chains: dict[str, list[str]]
) -> list[str]:
    """The agencies in ``granted`` (a ``can_assign_to`` being set by ``granter``) that the granter could
    not assign to itself: authority granted never exceeds the granter's own. ``chains``: each granted
    agency's chain up to the root (an unknown one counts as beyond)."""
    return [g for g in granted if not (g in chains and may_assign(granter, chains[g], granter_edges))]


def require(principal: Principal, action: Action) -> None:
    """A person may take ``action`` only with a role that allows it (events/roles.py); a machine caller
    (agency token, no person) acts for its agency as a whole, as before people signed in. The agency's
    own authority over the task is judged apart, by the route's rules."""
    if principal.person_id is None or may(principal.roles, action):
        return
    needed = ", ".join(sorted(PERMISSIONS[action]))
    raise Refused(
        "role-required",
        f"your role does not allow '{action}' (it needs one of: {needed})",
        f"Vai trò của bạn không được phép thực hiện thao tác này (cần một trong các vai trò: {needed})",
        403,
    )
