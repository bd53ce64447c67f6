"""Every notebook has a text twin for review, and the two say the same thing.

Each ``notebooks/NN_name.ipynb`` is paired by jupytext (``notebooks/jupytext.toml``)
with ``notebooks/NN_name.py`` in the ``py:percent`` format: the same cells, as
plain Python with ``# %%`` markers, so a change reads as an ordinary diff. The
``.ipynb`` stays the file that runs (papermill, nbval and its stored outputs); the
``.py`` has no outputs. After editing either one, ``make sync-notebooks`` brings
the other in step (jupytext takes the cells from whichever of the pair is newer
and keeps the outputs of the ``.ipynb``); JupyterLab (``make lab``) saves both.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
IPYNB = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
FIX = "run `make sync-notebooks` (jupytext --sync notebooks/*.ipynb) and commit both files"


def _cells(path: Path) -> list[tuple[str, str, list[str]]]:
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source, list(cell.metadata.get("tags", [])))
            for cell in notebook.cells]


def test_there_are_notebooks():
    assert IPYNB, f"no notebooks found in {NOTEBOOKS}"


def test_pairing_is_configured():
    config = (NOTEBOOKS / "jupytext.toml").read_text(encoding="utf-8")
    assert 'formats = "ipynb,py:percent"' in config


@pytest.mark.parametrize("ipynb", IPYNB, ids=[p.stem for p in IPYNB])
def test_notebook_has_a_text_pair(ipynb):
    assert ipynb.with_suffix(".py").is_file(), f"{ipynb.name} has no .py pair; {FIX}"


def test_every_text_pair_has_its_notebook():
    orphans = [p.name for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
               if not p.with_suffix(".ipynb").is_file()]
    assert not orphans, (f"no .ipynb for {orphans}: delete the .py, or make its notebook "
                         "with `jupytext --sync notebooks/NN_name.py`")


@pytest.mark.parametrize("ipynb", IPYNB, ids=[p.stem for p in IPYNB])
def test_notebook_and_its_pair_agree(ipynb):
    text = ipynb.with_suffix(".py")
    if not text.is_file():
        pytest.skip("no pair (reported by test_notebook_has_a_text_pair)")
    in_notebook, in_text = _cells(ipynb), _cells(text)
    if in_notebook == in_text:
        return
    differences = []
    for number, (a, b) in enumerate(zip(in_notebook, in_text, strict=False), 1):
        if a[:1] + a[2:] != b[:1] + b[2:]:
            differences.append(f"cell {number}: {a[0]} {a[2]} in {ipynb.name}, "
                               f"{b[0]} {b[2]} in {text.name}")
        elif a[1] != b[1]:
            diff = difflib.unified_diff(a[1].splitlines(), b[1].splitlines(), ipynb.name,
                                        text.name, n=0, lineterm="")
            differences.append(f"cell {number}:\n" + "\n".join(list(diff)[2:12]))
    if len(in_notebook) != len(in_text):
        differences.append(f"{len(in_notebook)} cells in {ipynb.name}, {len(in_text)} in {text.name}")
    pytest.fail(f"{ipynb.name} and {text.name} are out of step; {FIX}\n" + "\n".join(differences))
