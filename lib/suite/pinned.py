"""The fixed dataset and parameters behind the notebooks' committed outputs.

nbval compares a fresh run against those outputs, so both must come from the
same generator flags and notebook parameters: these.
"""

from __future__ import annotations

import os
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
PARAMETERS = {
    "TICKET_INSIGHTS_AS_OF_DATE": "2026-11-01",
    "TICKET_INSIGHTS_SEASON_START_MONTH": "8",
}


def make_pinned_data(out_dir: Path) -> Path:
    """Generate the pinned dataset into ``out_dir`` (well under a second)."""
    command = [sys.executable, str(PROJECT_ROOT / "generate_data.py"), "--out", str(out_dir)]
    for flag, value in GENERATOR_FLAGS.items():
        command += [flag, value]
    subprocess.run(command, check=True, capture_output=True)
    return out_dir


def pin_environment(scratch: Path) -> dict[str, str]:
    """Make pinned data under ``scratch`` and export the TICKET_INSIGHTS_*
    variables that point notebooks at it (see lib/notebook.py)."""
    pinned = {
        "TICKET_INSIGHTS_DATA_DIR": str(make_pinned_data(scratch / "data")),
        "TICKET_INSIGHTS_OUTPUT_DIR": str(scratch / "output"),
        **PARAMETERS,
    }
    os.environ.update(pinned)
    return pinned
