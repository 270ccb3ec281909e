"""Which package may import which: services never reach into deploy (the local stack) or bench (the
benchmarks), which depend on services and not the reverse; only the command line (services/cli) ties
them together. And the types every service imports (runtime/definition.py) live apart from the module
that wires services (runtime/service.py), so health and replay need not import the wiring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMAND_LINE = REPO / "services" / "cli"


def imported(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function (a lazy import is an import)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", ["deploy", "bench"])
def test_no_service_package_imports_the_stack_or_the_benchmarks(package: str) -> None:
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "services").rglob("*.py"))
        if COMMAND_LINE not in path.parents
        for name in sorted(imported(path))
        if _within(name, package)
    ]
    assert offenders == [], f"{package} depends on services, never the reverse: " + "; ".join(offenders)


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from deploy.stack import database_url\n    return database_url()\n")
    assert any(_within(name, "deploy") for name in imported(module))


@pytest.mark.parametrize("module", ["health.py", "definition.py", "replay/policy.py"])
def test_health_definition_and_replay_policy_do_not_import_the_wiring(module: str) -> None:
    names = imported(REPO / "services" / "runtime" / module)
    assert not [n for n in names if _within(n, "services.runtime.service")], names
