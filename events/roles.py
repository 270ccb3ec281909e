"""People's roles and what each may do, declared once.

The source documents ask that responsibility be "cá thể hóa": each action on a task is a person's, and
what a person may do follows from their role in their agency. This table is the only place that says so;
routes ask ``may`` and the docs render ``PERMISSIONS``. Machine callers (an agency system with an agency
token) are not people and have no role: they act for their agency as a whole, recorded as such.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"
    HEAD = "head"
    TRACKING = "tracking"
    DIRECTORY_ADMIN = "directory-admin"


ROLE_NAMES: dict[str, str] = {
    Role.OFFICER: "Chuyên viên — thực hiện nhiệm vụ được giao phụ trách",
    Role.HEAD: "Lãnh đạo — giao, phân công, xác nhận hoàn thành, quyết định gia hạn",
    Role.TRACKING: "Văn phòng / bộ phận theo dõi — nhập kế hoạch, xem báo cáo, đôn đốc",
    Role.DIRECTORY_ADMIN: "Quản trị danh mục cơ quan và cán bộ",
}


class Action(StrEnum):
    REPORT_PROGRESS = "report-progress"
    REPORT_COMPLETION = "report-completion"
    REQUEST_EXTENSION = "request-extension"
    CONFIRM_COMPLETION = "confirm-completion"
    RETURN_COMPLETION = "return-completion"
    DECIDE_EXTENSION = "decide-extension"
    ASSIGN = "assign"
    DELEGATE = "delegate"
    WITHDRAW = "withdraw"
    IMPORT_PLAN = "import-plan"
    READ_REPORTS = "read-reports"
    ACKNOWLEDGE_ALERT = "acknowledge-alert"
    ADMINISTER_DIRECTORY = "administer-directory"


_WORK = frozenset({Role.OFFICER, Role.HEAD})
_DECIDE = frozenset({Role.HEAD})

PERMISSIONS: dict[Action, frozenset[Role]] = {
    # Working a task: its officer, and the head who answers for it.
    Action.REPORT_PROGRESS: _WORK,
    Action.REPORT_COMPLETION: _WORK,
    Action.REQUEST_EXTENSION: _WORK,
    Action.ACKNOWLEDGE_ALERT: frozenset(Role) - {Role.DIRECTORY_ADMIN},
    # Decisions of the agency are its head's.
    Action.CONFIRM_COMPLETION: _DECIDE,
    Action.RETURN_COMPLETION: _DECIDE,
    Action.DECIDE_EXTENSION: _DECIDE,
    Action.ASSIGN: _DECIDE,
    Action.DELEGATE: _DECIDE,
    Action.WITHDRAW: _DECIDE,
    # The tracking office's work.
    Action.IMPORT_PLAN: frozenset({Role.TRACKING, Role.HEAD}),
    Action.READ_REPORTS: frozenset({Role.TRACKING, Role.HEAD, Role.OFFICER}),
    Action.ADMINISTER_DIRECTORY: frozenset({Role.DIRECTORY_ADMIN}),
}


def may(roles: frozenset[str] | set[str] | tuple[str, ...], action: Action) -> bool:
    """Whether a person with ``roles`` may take ``action`` (their agency's authority is judged apart)."""
    return any(role in PERMISSIONS[action] for role in roles)


def roles_of_person(directory_role: str, *, in_tracking_office: bool) -> tuple[str, ...]:
    """The roles a person of the directory holds: heads and deputies lead, others are officers; the
    people of a tracking office (văn phòng) also track. Directory administration is granted apart."""
    roles = [Role.HEAD if directory_role in ("head", "deputy") else Role.OFFICER]
    if in_tracking_office:
        roles.append(Role.TRACKING)
    return tuple(str(r) for r in roles)


def markdown_table() -> str:
    """The table as docs/design.md shows it (a test keeps the two the same)."""
    roles = list(Role)
    lines = ["| action | " + " | ".join(str(r) for r in roles) + " |", "|---|" + "---|" * len(roles)]
    for action, allowed in PERMISSIONS.items():
        lines.append(f"| {action} | " + " | ".join("✓" if r in allowed else "" for r in roles) + " |")
    return "\n".join(lines)
