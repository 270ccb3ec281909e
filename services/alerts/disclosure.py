"""What the external channels (webhook, e-mail) may carry of a task. Pure, no I/O.

In-app entries are complete: they are read in dondoc, behind the agency's token. A webhook and an
e-mail leave dondoc for systems we do not control (an agency's server, mail relays, mailboxes), so for a
secret task (mật) they carry only what lets the person act: that there is an alert of this kind, its
alert id and task id (opaque hashes), the reminder number, and a line telling them to open dondoc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from services.alerts import wording
from services.alerts.domain import Alert, AlertTask, DigestItem
from services.runtime.access import is_secret

# Enough for the receiving system to route the notice to the person and to find it in dondoc.
_ROUTING = ("alert_id", "task_id", "kind", "recipient_person_id", "recipient_role", "recipient_agency_id")


class Classified(Protocol):
    """A task, or a line of a digest naming one: what its secrecy is read from."""

    @property
    def classification(self) -> str | None: ...


def withholds(task: Classified) -> bool:
    """True when nothing of the task's content may leave dondoc.

    Why secret only: the law on state secrets (Luật Bảo vệ bí mật nhà nước 2018, Điều 5) forbids passing
    secret content over channels not approved for it, and ordinary e-mail or an agency's HTTP endpoint are
    not. Why not internal-use (nội bộ) tasks: "nội bộ" keeps a task from the public (reports, published
    lists), not from the person responsible for it; the webhook is the recipient agency's own system
    (registered with its token, signed) and the e-mail address is the one the directory or that agency
    gave its officer, so neither publishes it, and withholding most tasks would make both channels
    useless. Unknown classification (a task older than the column) fails closed: withheld.
    Why no deadline nor days left for a secret task: the deadline is part of what the document assigns
    (a date can itself tell what is planned); the kind of alert (sắp đến hạn, quá hạn) already says how
    urgent it is, and the date is one click away in dondoc.
    """
    return is_secret(task.classification)  # the access rule's own test (runtime/access.py)


def _marks(task: AlertTask) -> dict[str, Any]:
    return {"classification": task.classification, "withheld": withholds(task)}


def webhook_body(entry: Mapping[str, Any], task: AlertTask) -> dict[str, Any]:
    """The in-app entry (its JSON, raising.py) as the agency system receives it: whole, or for a secret task
    only the routing."""
    if not withholds(task):
        return {**entry, **_marks(task)}
    notice = wording.secret_notice(
        entry["kind"], task_id=entry["task_id"], alert_id=entry["alert_id"], reminder=entry["reminder"]
    )
    return {
        "event": entry["event"],
        "reminder": entry["reminder"],
        **{k: entry[k] for k in _ROUTING},
        **_marks(task),
        "message_vi": notice,
    }


def email(alert: Alert, task: AlertTask, reminder: int) -> tuple[str, str]:
    """(subject, text) of the e-mail of an alert or of its reminder."""
    if not withholds(task):
        return wording.subject(alert.kind, task.title, reminder), alert.message_vi
    return (
        wording.subject(alert.kind, wording.SECRET_TITLE, reminder),
        wording.secret_notice(alert.kind, task_id=task.task_id, alert_id=alert.alert_id, reminder=reminder),
    )


def digest_email(day: date, items: Sequence[DigestItem]) -> tuple[str, str]:
    """(subject, text) of the e-mailed daily digest: secret tasks by id only."""
    return wording.digest(day, items, secret={it.task_id for it in items if withholds(it)})


def resolution_body(alert: Alert, task: AlertTask, because: str, resolved_at: datetime) -> dict[str, Any]:
    """What the agency system that had the alert by webhook is told when it is over."""
    return {
        "event": "resolved",
        "alert_id": alert.alert_id,
        "task_id": alert.task_id,
        "kind": alert.kind,
        "recipient_person_id": alert.recipient_person_id,
        "recipient_role": alert.recipient_role,
        "recipient_agency_id": alert.recipient_agency_id,
        "because": because,
        "resolved_at": resolved_at,
        **_marks(task),
        "message_vi": wording.resolved(alert.kind, because, task, disclose=not withholds(task)),
    }
