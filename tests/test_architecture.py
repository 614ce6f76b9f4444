"""docs/architecture.md is the map of the package: its floors table says which floor each module is
on, and every import in src/lidscope (inside functions too) must go to the same floor or below, or be
one of the debts the page lists."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "lidscope"
DOC = ROOT / "docs" / "architecture.md"


def _table(marker: str) -> list[list[str]]:
    """Rows of the markdown table that follows ``<!-- marker ... -->`` (header and rule skipped)."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"<!-- {marker}"))
    rows = []
    for line in lines[start + 3:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def floors() -> dict[str, int]:
    return {m.strip(): int(row[0]) for row in _table("floors") for m in row[1].split(",")}


def debts() -> set[tuple[str, str]]:
    return {(row[0], row[1]) for row in _table("debts")}


def unit_of(module: str) -> str:
    """``lidscope.extract.models`` -> ``extract``; the package face ``lidscope`` -> ``lidscope``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(source: str, module: str, is_package: bool) -> set[str]:
    """Every lidscope module that ``source`` (the text of ``module``) imports, wherever the import is."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lidscope"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "lidscope":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    return found


def edges() -> set[tuple[str, str, str]]:
    """(importing unit, imported unit, importing file) for imports that cross units."""
    out = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for target in imports(path.read_text(), module, is_package):
            a, b = unit_of(module), unit_of(target)
            if a != b:
                out.add((a, b, str(path.relative_to(ROOT))))
    return out


def units() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    names |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    return names | {"lidscope"}


def test_every_module_has_a_floor_on_the_map():
    missing = sorted(units() - set(floors()))
    assert not missing, f"give these modules a floor in docs/architecture.md's floors table: {missing}"


def test_the_map_names_no_module_that_is_gone():
    stale = sorted(set(floors()) - units())
    assert not stale, f"docs/architecture.md names modules that no longer exist: {stale}"


def test_no_import_goes_up_a_floor_except_the_listed_debts():
    floor, allowed = floors(), debts()
    up = sorted(
        f"{where}: {a} (floor {floor[a]}) imports {b} (floor {floor[b]})"
        for a, b, where in edges()
        if a in floor and b in floor and floor[b] > floor[a] and (a, b) not in allowed
    )
    assert not up, "imports that go up a floor (move the code, or list the debt in docs/architecture.md):\n" + "\n".join(up)


def test_every_listed_debt_is_still_in_the_code():
    present = {(a, b) for a, b, _ in edges()}
    paid = sorted(debt for debt in debts() if debt not in present)
    assert not paid, f"these debts are paid: remove them from docs/architecture.md: {paid}"


@pytest.mark.parametrize(
    "source, module, is_package, expected",
    [
        ("from .neighbors import kneighbors", "lidscope.local", False, {"lidscope.neighbors"}),
        ("def f():\n    from lidscope.extract.models import load_model", "lidscope.measure", False,
         {"lidscope.extract.models"}),
        ("from .. import outputs", "lidscope.training.sweep", False, {"lidscope.outputs"}),
        ("from . import measure", "lidscope.cli", True, {"lidscope.cli.measure"}),
        ("import numpy as np\nfrom lidscope import local_dimensions", "lidscope.replicates", False, {"lidscope"}),
    ],
)
def test_imports_are_resolved_to_the_module_they_name(source, module, is_package, expected):
    assert imports(source, module, is_package) == expected


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    """A core module that imported the pipeline would be reported."""
    fake = tmp_path / "src" / "lidscope"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "neighbors.py").write_text("def f():\n    from lidscope.measure import measure\n")
    (fake / "measure.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert ("neighbors", "measure", str(Path("src/lidscope/neighbors.py"))) in edges()
    floor = floors()
    assert floor["measure"] > floor["neighbors"]
