"""Notebooks narrate, the library computes: no function or class definitions and no try/except in a cell
(lambdas inside pandas method chains are fine: they select, they do not define a formula)."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from salesplan.config import PROJECT_ROOT
from salesplan.publish import HEADLINE_MIME

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").rglob("*.ipynb"))
FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Try, ast.ClassDef)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_cells_hold_calls_not_definitions(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        bad = [type(node).__name__ for node in ast.walk(tree) if isinstance(node, FORBIDDEN)]
        assert not bad, f"{path.name} cell {i}: {', '.join(bad)} belongs in lib/salesplan, not in a notebook"


def test_every_pack_notebook_states_the_plan_it_used() -> None:
    for name in ("00_data_check", "01_review", "02_targets", "03_forecast", "04_retrospective", "05_commissions"):
        path = PROJECT_ROOT / "notebooks" / f"{name}.ipynb"
        text = path.read_text(encoding="utf-8")
        assert any(w in text for w in (".describe(", "plan_text(", "plan_year_words(")), name
        # The saved first card closes with the plan the page measured against.
        payloads = [
            o["data"][HEADLINE_MIME]
            for c in nbformat.read(path, as_version=4).cells
            for o in c.get("outputs", [])
            if HEADLINE_MIME in o.get("data", {})
        ]
        assert payloads and payloads[0]["figures"][-1]["label"].startswith("Plan "), name


PACK = sorted((PROJECT_ROOT / "notebooks").glob("0[0-9]_*.ipynb"))


@pytest.mark.parametrize("path", PACK, ids=lambda p: p.name)
def test_pages_are_built_not_printed(path: Path) -> None:
    """A pack page shows cards, tables and prose the library renders: no cell calls print(),
    whose monospace output wraps mid-number on a phone and cannot carry a status chip."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        calls = [
            node.lineno
            for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
        ]
        assert not calls, f"{path.name} cell {i} line {calls[0]}: print() on a page; show a card, a table or prose"


@pytest.mark.parametrize("path", PACK, ids=lambda p: p.name)
def test_pages_take_the_money_unit_from_the_settings(path: Path) -> None:
    """No page writes its money unit as a literal: report.money_unit (or the unit a page's
    builder read from it) is honoured on every table and chart."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.keyword) and node.arg == "unit" and isinstance(node.value, ast.Constant):
                raise AssertionError(f"{path.name} cell {i}: unit={node.value.value!r} written on the page")
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "unit" for t in node.targets):
                assert not isinstance(node.value, ast.Constant), f"{path.name} cell {i}: unit written as a literal"
