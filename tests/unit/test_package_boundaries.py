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


# The service template (docs/design.md, "Service layout"): the same file names for the same layers.
TEMPLATE = ("bootstrap.py", "routes.py", "handlers.py", "migrations")


def service_packages() -> list[str]:
    from events.topics import SERVICES

    found = sorted(p.parent.name for p in (REPO / "services").glob("*/bootstrap.py"))
    assert found == sorted(SERVICES), f"every service has a bootstrap.py, and only services: {found}"
    return found


def template_gaps(package: Path) -> list[str]:
    """What the package lacks of the template: missing files, adapters, a registry named otherwise."""
    gaps = [name for name in TEMPLATE if not (package / name).exists()]
    parts = [p.parent for p in package.glob("*/routes.py")]
    if not (package / "adapters.py").exists() and not (parts and all((p / "adapters.py").exists() for p in parts)):
        gaps.append("adapters.py (or one in each part)")
    if (package / "handlers.py").exists():
        tree = ast.parse((package / "handlers.py").read_text(encoding="utf-8"))
        if not any(isinstance(n, ast.FunctionDef) and n.name == "handlers" for n in tree.body):
            gaps.append("handlers.py without a handlers(…) registry")
    return gaps


@pytest.mark.parametrize("service", service_packages())
def test_every_service_package_has_the_template_files(service: str) -> None:
    gaps = template_gaps(REPO / "services" / service)
    assert gaps == [], f"services/{service} lacks {gaps} (docs/design.md, 'Service layout')"


def test_the_template_check_sees_a_missing_registry(tmp_path: Path) -> None:
    for name in ("bootstrap.py", "routes.py", "adapters.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "handlers.py").write_text("EVENT_HANDLERS = {}\n")
    assert template_gaps(tmp_path) == ["handlers.py without a handlers(…) registry"]
    (tmp_path / "adapters.py").unlink()
    assert "adapters.py (or one in each part)" in template_gaps(tmp_path)
