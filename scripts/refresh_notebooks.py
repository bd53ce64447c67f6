"""Re-execute notebooks in place on the pinned data and parameters, so their
stored outputs are what nbval compares against (``make notebooks``).

Usage: python scripts/refresh_notebooks.py [NN ...]   (default: all)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import papermill

from lib.config import PROJECT_ROOT
from lib.pinned import pin_environment

KERNEL = "ticket-insights"


def main(selected: list[str]) -> int:
    notebooks = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if selected:
        notebooks = [nb for nb in notebooks if nb.name[:2] in selected]
    scratch = Path(tempfile.mkdtemp(prefix="ticket-insights-refresh-"))
    try:
        pin_environment(scratch)
        for notebook in notebooks:
            print(f"executing {notebook.name}", flush=True)
            papermill.execute_notebook(
                str(notebook), str(notebook), kernel_name=KERNEL,
                cwd=str(PROJECT_ROOT), progress_bar=False, start_timeout=120,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
