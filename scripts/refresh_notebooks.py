"""Re-execute notebooks in place on the pinned data and parameters, so their
stored outputs are what nbval compares against (``make notebooks``).

All notebooks share one warm Spark Connect server (lib/suite/connect_server.py), or
the endpoint in ``SPARK_REMOTE`` if one is set. Run timestamps that papermill
and nbclient write into the notebooks are dropped, so a refresh that changes no
result leaves no diff.

Usage: python scripts/refresh_notebooks.py [NN ...]   (default: all)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from lib.config import PROJECT_ROOT
from lib.suite.pinned import inject_parameters, is_parameters_cell, pinned_parameters

KERNEL = "ticket-insights"
VOLATILE_CELL_METADATA = ("papermill", "execution")


def drop_run_metadata(path: Path) -> None:
    """Remove timings and timestamps; keep tags and everything else."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nbformat.write(nb, path)


def execute_pinned(path: Path, parameters: dict) -> None:
    """Execute the notebook in place with ``parameters`` injected after its
    parameters cell, as under nbval; the stored source stays as it was."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if is_parameters_cell(c))
    source = cell.source
    cell.source = inject_parameters(source, parameters)
    try:
        NotebookClient(nb, kernel_name=KERNEL, startup_timeout=180, timeout=1800,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        cell.source = source
        nbformat.write(nb, path)
        drop_run_metadata(path)


def main(selected: list[str]) -> int:
    notebooks = sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if selected:
        notebooks = [nb for nb in notebooks if nb.name[:2] in selected]
    scratch = Path(tempfile.mkdtemp(prefix="ticket-insights-refresh-"))
    server = None
    failed = []
    try:
        parameters = pinned_parameters(scratch)
        if not os.environ.get("SPARK_REMOTE"):
            from lib.session import server_java_options
            from lib.suite import class_archive
            from lib.suite.connect_server import start_server

            print("starting a local Spark Connect server", flush=True)
            server = start_server(scratch / "connect-server.log", app_name="ticket-insights-refresh",
                                  java_options=(*server_java_options(0),  # pinned data: small
                                                *class_archive.for_server()))
            os.environ["SPARK_REMOTE"] = server.url
        for notebook in notebooks:
            print(f"executing {notebook.name}", flush=True)
            try:
                execute_pinned(notebook, parameters)
            except CellExecutionError as error:
                failed.append(notebook.name)
                print(f"FAILED {notebook.name}: {error.ename}: {error.evalue}", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
