"""No module grows past what one reader holds in mind: at most 500 lines, except migrations and the
data modules named below (tables of seed rows, not code). A module that outgrows it is split by what it
does (DESIGN 1.2)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("partialauto", "markets", "inquiries", "policy", "tests", "bench", "scripts", "locale")
MAX_LINES = 500
# Data, not code: the starter knowledge, intents and risk keywords a new installation is seeded with.
DATA_MODULES = {Path("inquiries/agent/seed_data.py")}


def long_modules(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts or relative in DATA_MODULES:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append(f"{relative}: {lines} lines")
    return found


def test_no_module_over_500_lines():
    too_long = long_modules(ROOT)
    assert not too_long, "split these by what they do:\n" + "\n".join(too_long)


def test_the_count_sees_a_long_module(tmp_path):
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "policy" / "migrations").mkdir()
    (tmp_path / "policy" / "migrations" / "0001_initial.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert long_modules(tmp_path) == [f"policy/big.py: {MAX_LINES + 1} lines"]
