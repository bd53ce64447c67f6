"""Each notebook's parameters cell: only literal, commented defaults, the
same as lib.config.DEFAULTS (the one home of the defaults), and the next code
cell validates them through lib.notebook.setup."""

from __future__ import annotations

import ast

import nbformat
import pytest

from lib.config import DEFAULTS, PROJECT_ROOT
from lib.suite.pinned import inject_parameters, is_parameters_cell

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    index = next(i for i, c in enumerate(code) if is_parameters_cell(c))
    return code[index], code[index + 1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_the_config_defaults_as_commented_literals(path):
    cell, following = _cells(path)
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.unparse(node)
        values[node.targets[0].id] = ast.literal_eval(node.value)
    assert values == DEFAULTS
    assert all("#" in line for line in cell.source.splitlines() if line.strip())
    assert "nb.setup(" in following.source


def test_injected_parameters_come_after_the_defaults_and_win():
    cell, _ = _cells(NOTEBOOKS[0])
    scope: dict = {}
    exec(inject_parameters(cell.source, {"season_start_month": 1, "as_of_date": "2026-11-01"}),
         scope)
    assert scope["season_start_month"] == 1 and scope["as_of_date"] == "2026-11-01"
    assert scope["data_dir"] == DEFAULTS["data_dir"]
