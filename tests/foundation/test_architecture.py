"""The import boundaries of the design: worker never imports console or textual, console never
imports worker, shared imports neither, sim imports only shared (and third-party libraries)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"worker", "console", "shared", "sim", "mlc"}
FORBIDDEN = {
    "worker": {"console", "textual", "mlc"},
    "console": {"worker", "sim", "mlc"},
    "shared": {"worker", "console", "sim", "mlc", "textual"},
    "sim": {"worker", "console", "mlc", "textual"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_its_boundary(package: str) -> None:
    files = python_files(package)
    assert files, f"no Python files found in {package}/"
    offenders = {str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package]) for path in files if imported_roots(path) & FORBIDDEN[package]}
    assert offenders == {}, f"{package} imports what it must not: {offenders}"


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import textual.app\nfrom console.client import X\nfrom . import sibling\n", encoding="utf-8")
    assert imported_roots(sample) & FORBIDDEN["worker"] == {"textual", "console"}


def test_console_runs_without_the_worker_installed_in_its_imports() -> None:
    # The console's whole import graph (first-party part) stays inside console/ and shared/.
    seen: set[str] = set()
    pending = [p for p in python_files("console")]
    while pending:
        path = pending.pop()
        for root in imported_roots(path) & FIRST_PARTY:
            seen.add(root)
    assert seen <= {"console", "shared"}


# --- inside worker/: the layers ----------------------------------------------------------------

# Which worker modules each inner layer must not import (dotted prefixes). The qbXML layer is the
# QuickBooks language and its facts: it needs nothing else of the worker. The Web Connector side
# (qbwc) and the posting side meet only in the outbox and the store, never in each other.
INNER_FORBIDDEN = {
    "worker/qbxml": ("worker",),
    "worker/qbwc": ("worker.posting", "worker.concur", "worker.api"),
    "worker/posting": ("worker.qbwc", "worker.concur", "worker.api"),
    "worker/concur": ("worker.qbwc", "worker.posting", "worker.api"),
    "worker/store": ("worker.qbwc", "worker.posting", "worker.concur", "worker.api", "worker.outbox"),
}
INNER_ALLOWED = {"worker/qbxml": ("worker.qbxml",)}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name a file imports (``from worker import outbox`` counts as ``worker.outbox``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _forbidden_imports(layer: str, path: Path) -> list[str]:
    return sorted(name for name in imported_modules(path) if _within(name, INNER_FORBIDDEN[layer]) and not _within(name, INNER_ALLOWED.get(layer, ())))


@pytest.mark.parametrize("layer", sorted(INNER_FORBIDDEN))
def test_worker_layer_respects_its_boundary(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files found in {layer}/"
    offenders = {str(path.relative_to(ROOT)): bad for path in files if (bad := _forbidden_imports(layer, path))}
    assert offenders == {}, f"{layer} imports what it must not: {offenders}"


def test_the_layer_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from worker import outbox\nfrom worker.qbwc.session import Session\nimport worker.qbxml.build\n", encoding="utf-8")
    assert _forbidden_imports("worker/qbxml", sample) == ["worker.outbox", "worker.qbwc.session.Session"]
    assert _forbidden_imports("worker/posting", sample) == ["worker.qbwc.session.Session"]
    assert _forbidden_imports("worker/store", sample) == ["worker.outbox", "worker.qbwc.session.Session"]


def test_shell_only_helpers_live_in_mlc() -> None:
    # Commands that echo and exit belong to the command line, not to the worker.
    assert not (ROOT / "worker" / "tools.py").exists() and not (ROOT / "worker" / "concur_admin.py").exists()
