"""The dependency rules of DESIGN.md, checked on the source: imports point one way.

``actionkit`` and ``store`` use none of ours; ``catalog`` uses ``actionkit``
and ``store`` (``catalog/bootstrap.py`` alone imports the integrations);
integrations use ``actionkit``, ``store`` and ``catalog`` (to register), never
the executor or Celery; the executor never imports an integration or a front
door; the fake vendors share no code with the clients they stand in for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {
    "actionkit",
    "catalog",
    "executor",
    "integrations",
    "store",
    "sandbox",
    "patchbay",
    "recipes",
    "api",
}

ALLOWED: dict[str, set[str]] = {
    "actionkit": set(),
    "store": set(),
    "catalog": {"actionkit", "store"},
    "integrations": {"actionkit", "store", "catalog"},
    "executor": {"actionkit", "store", "catalog"},
    "sandbox": set(),
    # A workflow engine's side: it only enqueues steps and reads their outcomes.
    "recipes": {"actionkit", "executor"},
    # The HTTP API only calls down.
    "api": {"actionkit", "store", "catalog", "executor", "integrations"},
}
EXCEPTIONS = {
    # The one place that lists the integrations to build the catalog from.
    "catalog/bootstrap.py": {"integrations"},
}
FORBIDDEN_THIRD_PARTY = {"integrations": {"celery", "kombu"}, "actionkit": {"celery", "kombu"}}


def imports_of(path: Path) -> set[str]:
    """Top-level package names ``path`` imports (module level and inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(package: str) -> None:
    breaches: list[str] = []
    for path in sources(package):
        rel = path.relative_to(ROOT).as_posix()
        if "/migrations/" in rel:
            continue
        allowed = ALLOWED[package] | {package} | EXCEPTIONS.get(rel, set())
        used = imports_of(path)
        for name in sorted((used & OURS) - allowed):
            breaches.append(f"{rel} imports {name}")
        for name in sorted(used & FORBIDDEN_THIRD_PARTY.get(package, set())):
            breaches.append(f"{rel} imports {name}")
    assert breaches == []


def test_the_checker_finds_imports_anywhere_in_a_file(tmp_path: Path) -> None:
    """Module-level, aliased and function-local imports are all seen; relative ones are not ours."""
    source = tmp_path / "sample.py"
    source.write_text(
        "import executor.app as app\n"
        "from store import db\n"
        "def late():\n"
        "    from integrations.ninjaone import client\n"
        "from . import sibling\n"
    )
    assert imports_of(source) == {"executor", "store", "integrations"}
