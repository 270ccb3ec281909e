"""Fixed deadlines: one date, or "Phấn đấu …, chậm nhất …" — the "chậm nhất" (at the latest) date is
the due date, the other one an earlier target."""

from __future__ import annotations

import re
from datetime import date

from events.deadlines.model import Deadline
from events.deadlines.points import parse_point, resolve
from events.deadlines.refusals import fail
from events.deadlines.text import EDGE, strip_fillers

_CLAUSE_SPLIT = re.compile(r"\s*[,;]\s*|\s+(?=(?:chậm nhất|phấn đấu|phần đầu)\b)")
_DUE_MARK = re.compile(r"(?:chậm nhất|không quá|không muộn hơn|không chậm hơn)\b")
TARGET_MARK = re.compile(r"(?:phấn đấu|phần đầu)\b")


def parse_fixed(s: str, text: str, issued: date) -> Deadline:
    clauses = [c.strip(EDGE) for c in _CLAUSE_SPLIT.split(s)]
    clauses = [c for c in clauses if strip_fillers(c)]
    if len(clauses) == 1:
        period, relation = parse_point(clauses[0], text)
        return Deadline(kind="fixed", due=resolve(period, relation, issued, text), text=text)
    due_marked = [bool(_DUE_MARK.match(c)) for c in clauses]
    target_marked = [bool(TARGET_MARK.match(c)) for c in clauses]
    both_marked = any(t and d for t, d in zip(target_marked, due_marked, strict=True))
    if len(clauses) == 2 and sum(due_marked) == 1 and not both_marked:
        due_clause = clauses[due_marked.index(True)]
        target_clause = clauses[due_marked.index(False)]
    elif len(clauses) == 2 and sum(due_marked) == 0 and sum(target_marked) == 1:
        due_clause = clauses[target_marked.index(False)]
        target_clause = clauses[target_marked.index(True)]
    else:
        fail(
            text,
            "Several dates and no way to tell the binding one; mark it with 'chậm nhất' "
            "(e.g. 'Phấn đấu … , chậm nhất …')",
            "Có nhiều mốc thời gian mà không rõ mốc nào là thời hạn; hãy ghi 'chậm nhất' trước "
            "thời hạn (ví dụ 'Phấn đấu … , chậm nhất …')",
        )
    due = resolve(*parse_point(due_clause, text), issued, text)
    target = resolve(*parse_point(target_clause, text), issued, text)
    if target > due:
        fail(
            text,
            f"The target ({target:%d/%m/%Y}) is after the latest date ({due:%d/%m/%Y})",
            f"Mốc phấn đấu ({target:%d/%m/%Y}) sau thời hạn chậm nhất ({due:%d/%m/%Y})",
        )
    return Deadline(kind="fixed", due=due, target=target, text=text)
