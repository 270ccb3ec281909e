"""The design is in the repo and every pointer to it, or to a file, leads somewhere.

Code cites the design as ``DESIGN §n`` (optionally with a subsection name in quotes) and names files
by their repo path in docstrings, comments and docs. A citation whose heading is missing, or a path
to a file that no longer exists, sends the next reader nowhere: these tests fail on either.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"

_TEXT_SUFFIXES = {".py", ".sql", ".md", ".js", ".html", ".sh", ".yaml", ".yml"}
_SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__", ".dondoc", "contracts"}
_CITATION = re.compile(r'DESIGN\s*§\s*(\d+)(?:\s*[:,]?\s*["“]([^"”]+)["”])?')
_PATH = re.compile(
    r"(?<![\w./-])((?:events|services|tests|deploy|docs|bench|drills|contracts)/[\w./-]+?"
    r"\.(?:py|md|sql|json|tsv|yaml|yml|sh|js|html|css|properties|xml))(?![\w/*<-])"
)


def _texts() -> list[Path]:
    return sorted(
        p
        for p in REPO.rglob("*")
        if p.is_file() and p.suffix in _TEXT_SUFFIXES and not _SKIP_DIRS.intersection(p.relative_to(REPO).parts)
    )


def _sections() -> dict[str, list[str]]:
    """'4' -> the names of its ### subsections, from docs/design.md's '## 4. …' headings."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in DESIGN.read_text(encoding="utf-8").splitlines():
        top = re.match(r"## (\d+)\. ", line)
        if top:
            current = top.group(1)
            sections[current] = []
        elif line.startswith("### ") and current is not None:
            sections[current].append(line[4:].strip().lower())
    return sections


def test_the_design_document_exists_with_numbered_sections() -> None:
    sections = _sections()
    assert {"1", "2", "3", "4", "5", "6", "7"} <= set(sections), sorted(sections)


def test_every_design_citation_points_at_a_real_heading() -> None:
    sections = _sections()
    broken = []
    for path in _texts():
        if path == DESIGN:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for match in _CITATION.finditer(line):
                section, name = match.group(1), match.group(2)
                where = f"{path.relative_to(REPO)}:{number}: {match.group(0)}"
                if section not in sections:
                    broken.append(f"{where} (no '## {section}.' heading)")
                elif name and not any(name.lower() in heading for heading in sections[section]):
                    broken.append(f"{where} (no '### …{name}…' under § {section})")
    assert not broken, "citations without their heading in docs/design.md:\n" + "\n".join(broken)


def test_every_file_named_by_its_repo_path_exists() -> None:
    missing = []
    for path in _texts():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for match in _PATH.finditer(line):
                target = match.group(1).rstrip(".")
                if not (REPO / target).exists():
                    missing.append(f"{path.relative_to(REPO)}:{number}: {target}")
    assert not missing, "pointers to files that do not exist:\n" + "\n".join(missing)


def test_every_module_a_service_readme_names_exists() -> None:
    """A service's README names its modules relative to its own folder or package (`tasks/model.py`,
    or `model.py` in the row of `tasks/`): each must exist somewhere below the service."""
    missing = []
    for readme in sorted((REPO / "services").glob("*/README.md")):
        for name in re.findall(r"`([\w/.-]+\.py)`", readme.read_text(encoding="utf-8")):
            below = any(str(found).endswith("/" + name) for found in readme.parent.rglob("*.py"))
            if not below and not (REPO / name).exists():
                missing.append(f"{readme.relative_to(REPO)}: {name}")
    assert not missing, "modules named in service READMEs that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", ["reliability.md", "design.md"])
def test_the_docs_the_readme_promises_are_there(name: str) -> None:
    assert (REPO / "docs" / name).is_file()


def test_the_roles_table_in_the_design_is_the_one_in_code() -> None:
    from events.roles import markdown_table

    assert markdown_table() in DESIGN.read_text(encoding="utf-8"), "render events.roles.markdown_table() into §6"
