"""Run the whole notebook suite: ``python -m lib.run`` (what ``make run`` calls).

Notebook 00 runs first, alone (it stages the cleaned inputs every other
notebook reads), then 01-11 run up to ``--jobs`` at once, each through
papermill, each saved executed under ``<output>/notebooks/``. One warm Spark
serves the batch: a local Spark Connect server started here and stopped at the
end, also on failure and Ctrl-C (``lib.connect_server``). If ``SPARK_REMOTE``
already names an endpoint (a cluster) it is used and nothing is started;
``--no-shared-session`` gives every notebook its own local session instead.

A failing notebook does not stop the others: the summary names it, its failing
cell and the error's first lines, the executed notebook is kept, and the exit
code is 1. Bad parameters exit with 2 before any Spark starts; Ctrl-C with 130.
Finally ``<output>/report/index.html`` is built (``lib.report``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.config import PROJECT_ROOT, Params, make_params
from lib.errors import TicketInsightsError
from lib.progress import Progress, Result, summary_table

KERNEL = "ticket-insights"
KERNEL_START_TIMEOUT = 180  # s; kernels start while a JVM may be busy on both cores
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
FIRST = "00"  # stages the data; runs alone before the rest
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Batch:
    params: Params
    notebooks: list[Path]
    jobs: int
    executed_dir: Path
    shown_from: Path  # the user's working directory, for the paths we print


def default_jobs(shared: bool) -> int:
    """Notebooks at once: with one shared server the kernels mostly wait on it,
    so a few more than the cores keep it busy; each local session is a JVM."""
    cores = os.cpu_count() or 2
    return min(4, cores + 1) if shared else max(1, min(4, cores // 2 or 1))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", default="data", help="folder with tickets.csv and customer.json")
    parser.add_argument("--output-dir", default="output", help="folder the outputs go to")
    parser.add_argument("--as-of-date", default=None, help="yyyy-mm-dd (default: today)")
    parser.add_argument("--season-start-month", default="8", help="1-12 (default: 8)")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 03,05")
    parser.add_argument("--jobs", default=None, help="notebooks at once (default: what suits the machine)")
    parser.add_argument("--no-shared-session", action="store_true",
                        help="give every notebook its own local Spark session")
    parser.add_argument("--notebooks-dir", default=str(PROJECT_ROOT / "notebooks"),
                        help="where the notebooks are (default: the project's notebooks/)")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    return parser.parse_args(argv)


def _select(folder: Path, only: str) -> list[Path]:
    if not folder.is_dir():
        raise TicketInsightsError(f"notebooks folder {folder} not found")
    available = sorted(folder.glob(NOTEBOOK_GLOB))
    if not available:
        raise TicketInsightsError(f"no notebooks NN_*.ipynb in {folder}")
    wanted = [part.strip() for part in only.split(",") if part.strip()]
    if not wanted:
        return available
    numbers = {nb.name[:2] for nb in available}
    chosen = set()
    for part in wanted:
        if not part.isdigit() or f"{int(part):02d}" not in numbers:
            raise TicketInsightsError(
                f"--only: no notebook {part!r} in {folder} (have {', '.join(sorted(numbers))})"
            )
        chosen.add(f"{int(part):02d}")
    return [nb for nb in available if nb.name[:2] in chosen]


def _jobs(value: str | None, shared: bool) -> int:
    if value is None or str(value).strip() == "":
        return default_jobs(shared)
    if not str(value).strip().isdigit() or int(value) < 1:
        raise TicketInsightsError(f"--jobs must be a whole number >= 1, got {value!r}")
    return int(value)


def _shown(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)
    except ValueError:
        return str(path)


def _error_summary(error: BaseException, executed: Path) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        first_line = next((ln for ln in error.source.splitlines()
                           if ln.strip() and not ln.startswith("# NBVAL")), "")
        message = _ANSI.sub("", f"{error.ename}: {error.evalue}").strip().splitlines()
        lines = [f"cell {error.cell_index} (In [{error.exec_count}]): {first_line.strip()}"]
        return "\n".join(lines + message[:6])
    message = _ANSI.sub("", f"{type(error).__name__}: {error}").strip().splitlines()
    return "\n".join(message[:6])


def _outputs_written(executed: Path, output_dir: Path, since: float) -> list[str]:
    """Files this notebook reported writing ("wrote X" lines of ``nb.write``)
    plus its charts changed since it started."""
    import nbformat

    written: list[str] = []
    try:
        nb = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):
        nb = None
    for cell in nb.cells if nb else []:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                written += [m for m in re.findall(r"^wrote (\S.*?)\s*$", out.get("text", ""), re.M)
                            if m not in written]
    prefix = executed.name[:3]
    for chart in sorted((output_dir / "charts").glob(f"{prefix}*.png")):
        if chart.stat().st_mtime >= since - 1:
            written.append(f"charts/{chart.name}")
    return written


def run_notebook(notebook: Path, batch: Batch, progress: Progress) -> Result:
    """Execute one notebook with papermill; never raises for a notebook error."""
    import papermill

    name = notebook.stem
    executed = batch.executed_dir / notebook.name
    result = Result(name=name, executed=_shown(executed, batch.shown_from))
    progress.started(name)
    began_wall, began = time.time(), time.monotonic()
    params = batch.params
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), kernel_name=KERNEL, progress_bar=False,
            start_timeout=KERNEL_START_TIMEOUT, kernel_manager_class=_kernel_manager_class(),
            parameters={
                "data_dir": str(params.data_dir),
                "output_dir": str(params.output_dir),
                "as_of_date": params.as_of_date.isoformat(),
                "season_start_month": params.season_start_month,
            },
        )
        result.status = "ok"
    except Exception as error:  # noqa: BLE001 - any failure is reported, never fatal
        result.status = "FAILED"
        result.error = _error_summary(error, executed)
    result.seconds = time.monotonic() - began
    result.outputs = _outputs_written(executed, params.output_dir, began_wall)
    progress.finished(result)
    return result
