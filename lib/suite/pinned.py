"""The fixed dataset and parameters behind the notebooks' committed outputs.

nbval compares a fresh run against those outputs, so both must come from the
same generator flags and notebook parameters: these. The parameters reach a
notebook the way papermill passes them, as assignments after the parameters
cell (:func:`inject_parameters`), so nothing in production code knows about
tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lib.config import PROJECT_ROOT

GENERATOR_FLAGS = {
    "--seed": "42",
    "--reference-date": "2026-11-01",
    "--orders": "10000",
    "--customers": "2000",
}
PARAMETERS = {"as_of_date": "2026-11-01", "season_start_month": 8}
PARAMETERS_TAG = "parameters"


def make_pinned_data(out_dir: Path) -> Path:
    """Generate the pinned dataset into ``out_dir`` (well under a second)."""
    command = [sys.executable, str(PROJECT_ROOT / "generate_data.py"), "--out", str(out_dir)]
    for flag, value in GENERATOR_FLAGS.items():
        command += [flag, value]
    subprocess.run(command, check=True, capture_output=True)
    return out_dir


def pinned_parameters(scratch: Path) -> dict:
    """Pinned data made under ``scratch``, and every notebook parameter for it."""
    return {"data_dir": str(make_pinned_data(scratch / "data")),
            "output_dir": str(scratch / "output"), **PARAMETERS}


def inject_parameters(source: str, parameters: dict) -> str:
    """A parameters cell's source followed by ``parameters`` as papermill
    would inject them (same translator, so the same Python literals)."""
    from papermill.translators import translate_parameters

    injected = translate_parameters("python3", "python", parameters, "Parameters injected")
    return source.rstrip("\n") + "\n\n" + injected


def is_parameters_cell(cell) -> bool:
    return PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
