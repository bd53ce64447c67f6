"""Run the whole notebook suite: ``python -m lib.run`` (what ``make run`` calls).

Notebook 00 runs first, alone (it stages the cleaned inputs every other
notebook reads), then 01-11 run up to ``--jobs`` at once, each through
papermill, each saved executed under ``<output>/notebooks/``. One warm Spark
serves the batch: a local Spark Connect server started here and stopped at the
end, also on failure and Ctrl-C (``lib.suite.connect_server``). If ``SPARK_REMOTE``
already names an endpoint (a cluster) it is used and nothing is started;
``--no-shared-session`` gives every notebook its own local session instead.

A failing notebook does not stop the others: the summary names it, its failing
cell and the error's first lines, the executed notebook is kept, and the exit
code is 1. Bad parameters and input files that cannot be read (missing, empty,
wrong header, not UTF-8, not JSON) exit with 2 before any Spark starts and
before anything is written; Ctrl-C, SIGTERM and SIGHUP with 130. A run holds a
lock on its output folder and first removes the scratch a killed run left
there. Finally ``<output>/report/index.html`` is built (``lib.report``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lib.config import DEFAULTS, PROJECT_ROOT, Params, make_params
from lib.errors import TicketInsightsError
from lib.input_checks import check_input_files
from lib.suite.cleanup import output_dir_lock, remove_stale_scratch
from lib.suite.freshness import recorded_outputs, run_fingerprint, stale_reason
from lib.suite.kernel_pool import KernelPool, kill_kernels
from lib.suite.kernels import run_batch, run_notebook
from lib.suite.progress import UP_TO_DATE, Progress, Result, summary_table

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
FIRST = "00"  # stages the data; runs alone before the rest


@dataclass(frozen=True)
class Batch:
    params: Params
    notebooks: list[Path]
    jobs: int
    executed_dir: Path
    shown_from: Path  # the user's working directory, for the paths we print


def default_jobs(shared: bool) -> int:
    """Notebooks at once. With one shared server the kernels mostly wait on it,
    so twice the cores keeps it busy (on 2 cores, 4 at once was the fastest of
    2, 3 and 4); with local sessions each notebook is a JVM: one per core."""
    cores = os.cpu_count() or 2
    return max(2, min(6, 2 * cores)) if shared else max(1, min(4, cores))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", default=DEFAULTS["data_dir"],
                        help="folder with tickets.csv and customer.json (default: %(default)s)")
    parser.add_argument("--output-dir", default=DEFAULTS["output_dir"],
                        help="folder the outputs go to (default: %(default)s)")
    parser.add_argument("--as-of-date", default=DEFAULTS["as_of_date"],
                        help="yyyy-mm-dd (default: today)")
    parser.add_argument("--season-start-month", default=DEFAULTS["season_start_month"],
                        help="1-12 (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="run every notebook, also those whose outputs are up to date")
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


# -- the batch -----------------------------------------------------------------

def _run_one(notebook: Path, batch: Batch, progress: Progress, kernels: KernelPool) -> Result:
    executed = batch.executed_dir / notebook.name
    return run_notebook(notebook, executed, batch.params, progress, kernels,
                        _shown(executed, batch.shown_from))


def _up_to_date(batch: Batch, force: bool) -> dict[str, Result]:
    """The notebooks whose outputs are current (:mod:`lib.suite.freshness`)."""
    if force:
        return {}
    current = {}
    for nb in batch.notebooks:
        executed = batch.executed_dir / nb.name
        if stale_reason(nb, executed, batch.params, run_fingerprint(nb, batch.params)) is None:
            current[nb.stem] = Result(name=nb.stem, status=UP_TO_DATE,
                                      outputs=recorded_outputs(nb, batch.params),
                                      executed=_shown(executed, batch.shown_from))
    return current


def _run_batch(batch: Batch, progress: Progress, current: dict[str, Result],
               kernels: KernelPool | None) -> tuple[list[Result], bool]:
    """00 alone first, then the rest up to ``jobs`` at once; notebooks already
    up to date are reported, not run. Returns the results in notebook order
    and whether the run was interrupted."""
    for result in current.values():
        progress.skipped(result)
    to_run = [nb for nb in batch.notebooks if nb.stem not in current]
    first = [nb for nb in to_run if nb.name.startswith(FIRST + "_")]
    rest = [nb for nb in to_run if nb not in first]
    results, interrupted = run_batch([first, rest], batch.jobs,
                                     lambda nb: _run_one(nb, batch, progress, kernels), progress)
    ran = {r.name: r for r in results}
    return [current.get(nb.stem) or ran[nb.stem] for nb in batch.notebooks], interrupted


# -- Spark for the batch ---------------------------------------------------------

def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _prepare_spark(shared: bool, params: Params, shown_from: Path):
    """Returns (description, server or None); sets SPARK_REMOTE for kernels."""
    if not shared:
        if os.environ.pop("SPARK_REMOTE", None):
            print("note: --no-shared-session: ignoring SPARK_REMOTE", file=sys.stderr)
        return "a local Spark session per notebook", None
    remote = os.environ.get("SPARK_REMOTE", "").strip()
    if remote:
        shown = re.sub(r";token=[^;]*", ";token=***", remote)
        return f"Spark Connect endpoint from SPARK_REMOTE ({shown})", None
    from lib.suite.connect_server import start_server

    log = params.output_dir / "logs" / "connect-server.log"
    print(f"Starting a local Spark Connect server (log: {_shown(log, shown_from)})...",
          end=" ", flush=True)
    server = start_server(log)
    print(f"ready in {server.started_in:.1f} s (127.0.0.1:{server.port}, pid {server.pid})",
          flush=True)
    os.environ["SPARK_REMOTE"] = server.url  # kernels inherit it
    return f"shared local Spark Connect server (127.0.0.1:{server.port})", server


def _build_report(batch: Batch, results: list[Result], run_info: dict) -> str | None:
    from lib.suite.report import build_report

    try:
        index = build_report(batch.params.output_dir, results=results, run_info=run_info)
    except Exception as error:  # noqa: BLE001 - the run's outputs stand without it
        print(f"report: FAILED to build: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    return _shown(index, batch.shown_from)


def _prepare(args: argparse.Namespace, user_cwd: Path) -> Batch:
    """Everything checked before any Spark starts (raises TicketInsightsError):
    parameters, input files, notebooks, jobs."""
    params = make_params(args.data_dir, args.output_dir, args.as_of_date,
                         args.season_start_month, base_dir=user_cwd)
    check_input_files(params.tickets_path, params.customers_path)  # no Spark needed
    notebooks = _select((user_cwd / args.notebooks_dir).resolve(), args.only)
    jobs = _jobs(args.jobs, not args.no_shared_session)
    return Batch(params, notebooks, jobs, params.output_dir / "notebooks", user_cwd)


def _summarise(batch: Batch, results: list[Result], seconds: float) -> list[Result]:
    failed = [r for r in results if not r.ok]
    print()
    print(summary_table(results))
    print(f"\n{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} not ok, "
          f"in {seconds:.1f} s. Executed notebooks: {_shown(batch.executed_dir, batch.shown_from)}/")
    return failed


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    user_cwd = Path.cwd()
    try:
        batch = _prepare(args, user_cwd)
    except TicketInsightsError as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    try:
        with output_dir_lock(batch.params.output_dir):
            return _run_locked(batch, args, user_cwd)
    except TicketInsightsError as error:  # another run holds the folder
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run_locked(batch: Batch, args: argparse.Namespace, user_cwd: Path) -> int:
    params, jobs = batch.params, batch.jobs
    remove_stale_scratch(params)
    os.chdir(PROJECT_ROOT)  # kernels start here; every path above is absolute
    batch.executed_dir.mkdir(parents=True, exist_ok=True)
    print(f"Ticket insights: {len(batch.notebooks)} notebook(s); data "
          f"{_shown(params.data_dir, user_cwd)} -> {_shown(params.output_dir, user_cwd)}; "
          f"as_of_date {params.as_of_date}; season_start_month {params.season_start_month}",
          flush=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # clean up as for Ctrl-C
        signal.signal(sig, _raise_interrupt)
    began = time.monotonic()
    server = kernels = None
    try:
        current = _up_to_date(batch, args.force)
        to_run = len(batch.notebooks) - len(current)
        if to_run:  # kernels start and warm up while the Spark server starts
            kernels = KernelPool(params.output_dir / "logs", total=to_run, ahead=jobs).start()
            spark_mode, server = _prepare_spark(not args.no_shared_session, params, user_cwd)
            kernels.use_remote(os.environ.get("SPARK_REMOTE"))
            print(f"Spark: {spark_mode}; {jobs} notebook(s) at once", flush=True)
        else:
            spark_mode = "none needed: every notebook is up to date (--force re-runs them)"
        progress = Progress(len(batch.notebooks))
        results, interrupted = _run_batch(batch, progress, current, kernels)
        progress.close()
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except TicketInsightsError as error:  # e.g. no Java, or the server did not start
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    finally:
        if kernels is not None:
            kernels.close()
            kill_kernels()  # any still starting
        if server is not None:
            server.stop()
            os.environ.pop("SPARK_REMOTE", None)
    seconds = time.monotonic() - began
    failed = _summarise(batch, results, seconds)
    if interrupted:
        sys.stdout.flush()
        sys.stderr.flush()
        if any(t.name.startswith("notebook") and t.is_alive() for t in threading.enumerate()):
            os._exit(130)  # a notebook thread still hangs on its dead kernel: do not wait
        return 130
    report = None
    if not args.no_report:
        try:
            report = _build_report(batch, results, {
                "spark": spark_mode, "jobs": jobs, "seconds": round(seconds, 1),
            })
        except KeyboardInterrupt:
            return 130
        if report:
            print(f"Report: {report}")
    return 1 if failed or (report is None and not args.no_report) else 0


if __name__ == "__main__":
    sys.exit(main())
