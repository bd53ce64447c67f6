"""Project-wide pytest set-up, loaded for unit tests and for nbval runs alike.

Pins the data and parameters the notebooks run with under nbval (lib/pinned.py):
a dataset made by generate_data.py with a fixed seed and reference date, in a
temporary folder, passed to notebook kernels through TICKET_INSIGHTS_*
variables. So ``pytest --nbval-lax notebooks/NN_x.ipynb`` works from the project
root with no other preparation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_scratch: Path | None = None


def pytest_configure(config):
    global _scratch
    if os.environ.get("TICKET_INSIGHTS_DATA_DIR"):
        return  # the caller pinned things already
    from lib.pinned import pin_environment

    _scratch = Path(tempfile.mkdtemp(prefix="ticket-insights-pinned-"))
    pin_environment(_scratch)


def pytest_unconfigure(config):
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
