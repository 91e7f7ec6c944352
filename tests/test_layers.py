"""The apps depend in one direction: ``markets`` ← ``inquiries`` ← ``policy`` (DESIGN 1.2). An app imports
only the apps to its left — at module level and inside functions alike — and ``partialauto``'s utilities
import no app. Upward work goes by task name (``partialauto.queue``), a signal or a registered hook."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("markets", "inquiries", "policy")
# What each package may import of the three apps.
ALLOWED = {
    "markets": {"markets"},
    "inquiries": {"markets", "inquiries"},
    "policy": {"markets", "inquiries", "policy"},
}
# partialauto's wiring imports everything; its utilities import nothing of the apps.
WIRING = {"urls.py", "schedules.py", "demo.py", "demo_setup.py", "apps.py", "health.py", "serve.py", "settings.py"}


def imported_apps(path: Path) -> list[tuple[int, str]]:
    """(line, app) for every import of one of the three apps anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in APPS:
                found.append((node.lineno, top))
    return found


def sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", APPS)
def test_app_imports_only_the_apps_below_it(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {app}"
        for path in sources(package)
        for line, app in imported_apps(path)
        if app not in ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_shared_utilities_import_no_app():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {app}"
        for path in sources("partialauto")
        if path.name not in WIRING
        for line, app in imported_apps(path)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_walker_sees_imports_inside_functions(tmp_path):
    # The check above is only as good as this: a lazy import in a function body counts.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from policy.models import Mode\n    import inquiries.models\n")
    assert imported_apps(module) == [(2, "policy"), (3, "inquiries")]
