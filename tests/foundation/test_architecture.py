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
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in files
        if imported_roots(path) & FORBIDDEN[package]
    }
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
