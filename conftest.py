"""Project-wide pytest set-up, loaded for unit tests and for nbval runs alike.

Pins the data and parameters the notebooks run with under nbval: a dataset made
by generate_data.py with a fixed seed and reference date, in a temporary
folder, passed to the notebook kernels through TICKET_INSIGHTS_* variables (see
lib/notebook.py). So ``pytest --nbval-lax notebooks/NN_x.ipynb`` works from the
project root with no other preparation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PINNED = {
    "seed": "42",
    "reference_date": "2026-11-01",
    "orders": "10000",
    "customers": "2000",
    "as_of_date": "2026-11-01",
    "season_start_month": "8",
}
_scratch: Path | None = None


def make_pinned_data(out_dir: Path) -> Path:
    """Generate the pinned dataset into ``out_dir`` (a few tenths of a second)."""
    subprocess.run(
        [sys.executable, str(ROOT / "generate_data.py"), "--out", str(out_dir),
         "--seed", PINNED["seed"], "--reference-date", PINNED["reference_date"],
         "--orders", PINNED["orders"], "--customers", PINNED["customers"]],
        check=True, capture_output=True,
    )
    return out_dir


def pytest_configure(config):
    global _scratch
    if os.environ.get("TICKET_INSIGHTS_DATA_DIR"):
        return  # the caller pinned things already (e.g. make notebooks)
    _scratch = Path(tempfile.mkdtemp(prefix="ticket-insights-pinned-"))
    os.environ["TICKET_INSIGHTS_DATA_DIR"] = str(make_pinned_data(_scratch / "data"))
    os.environ["TICKET_INSIGHTS_OUTPUT_DIR"] = str(_scratch / "output")
    os.environ["TICKET_INSIGHTS_AS_OF_DATE"] = PINNED["as_of_date"]
    os.environ["TICKET_INSIGHTS_SEASON_START_MONTH"] = PINNED["season_start_month"]


def pytest_unconfigure(config):
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
