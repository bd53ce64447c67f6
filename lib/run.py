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
import asyncio
import concurrent.futures as cf
import os
import re
import signal
import socket
import sys
import threading
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


def _error_summary(error: BaseException) -> str:
    """The failing cell (index, execution count, first line) and the error's first lines."""
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
    """Files the notebook reported writing (``nb.write`` prints "wrote X"),
    then its charts changed since it started."""
    import nbformat

    from lib.report import files_written

    try:
        written = files_written(nbformat.read(executed, as_version=4))
    except (OSError, ValueError):
        written = []
    for chart in sorted((output_dir / "charts").glob(f"{executed.name[:3]}*.png")):
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
    _THIS_THREAD.kernel_log = params.output_dir / "logs" / f"{name}.log"
    _THIS_THREAD.kernel_log.parent.mkdir(parents=True, exist_ok=True)
    _THIS_THREAD.kernel_log.write_bytes(b"")
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
        result.error = _error_summary(error)
    result.seconds = time.monotonic() - began
    result.outputs = _outputs_written(executed, params.output_dir, began_wall)
    progress.finished(result)
    return result


# -- kernels: started one at a time, killed on Ctrl-C ------------------------

_KERNEL_START = threading.Lock()
_THIS_THREAD = threading.local()  # .kernel_log: where the next kernel logs
_KERNELS: list = []  # kernel managers started by this process
_KM_CLASS: list = []


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _kernel_manager_class():
    """A kernel manager that starts kernels one at a time, each until it
    listens on all its ports: kernels started at the same moment can race for
    the same free ports (a known papermill/jupyter-client problem)."""
    if _KM_CLASS:
        return _KM_CLASS[0]
    from jupyter_client.manager import AsyncKernelManager

    class OneAtATimeKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            log_path = getattr(_THIS_THREAD, "kernel_log", None)
            with _KERNEL_START:  # each notebook thread runs its own event loop
                if log_path is None:
                    await super().start_kernel(**kw)
                else:  # the kernel's (and a local JVM's) stdout/stderr
                    with open(log_path, "ab") as log:
                        await super().start_kernel(stdout=log, stderr=log, **kw)
                _KERNELS.append(self)
                ports = (self.shell_port, self.iopub_port, self.stdin_port,
                         self.control_port, self.hb_port)
                deadline = time.monotonic() + KERNEL_START_TIMEOUT
                while time.monotonic() < deadline and await self.is_alive():
                    if all(_listening(self.ip, port) for port in ports):
                        break
                    await asyncio.sleep(0.1)

    _KM_CLASS.append(OneAtATimeKernelManager)
    return OneAtATimeKernelManager


def _live_kernel_groups() -> list[int]:
    groups = []
    for km in list(_KERNELS):
        provisioner = getattr(km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None and process.poll() is None:
            groups.append(getattr(provisioner, "pgid", None) or process.pid)
    return groups


def _kill_kernels() -> None:
    """Stop every kernel still running (and the local JVMs they started)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        groups = _live_kernel_groups()
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        if groups and sig == signal.SIGTERM:
            time.sleep(3)


# -- the batch -----------------------------------------------------------------

def _run_batch(batch: Batch, progress: Progress) -> tuple[list[Result], bool]:
    """00 alone first, then the rest up to ``jobs`` at once. Returns the
    results in notebook order and whether the run was interrupted."""
    first = [nb for nb in batch.notebooks if nb.name.startswith(FIRST + "_")]
    rest = [nb for nb in batch.notebooks if nb not in first]
    results: dict[str, Result] = {}
    futures: dict[cf.Future, Path] = {}
    pool = cf.ThreadPoolExecutor(max_workers=batch.jobs, thread_name_prefix="notebook")
    interrupted = False
    try:
        for group in (first, rest):
            submitted = {pool.submit(run_notebook, nb, batch, progress): nb for nb in group}
            futures.update(submitted)
            pending = set(submitted)
            while pending:
                _, pending = cf.wait(pending, timeout=1.0)
                progress.tick()
    except KeyboardInterrupt:
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one clean-up at a time
        progress.close()
        print("\nInterrupted: stopping the running notebooks...", flush=True)
        pool.shutdown(wait=False, cancel_futures=True)
        _kill_kernels()
        cf.wait(list(futures), timeout=30)
    finally:
        pool.shutdown(wait=not interrupted)
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            result = future.result()
            results[result.name] = result
    for nb in batch.notebooks:
        result = results.setdefault(nb.stem, Result(name=nb.stem, status="interrupted"))
        if interrupted and result.status == "FAILED":
            result.status = "interrupted"
    return [results[nb.stem] for nb in batch.notebooks], interrupted


# -- Spark for the batch ---------------------------------------------------------

def _raise_interrupt(signum, frame):  # SIGTERM: clean up as for Ctrl-C
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
    from lib.connect_server import start_server

    log = params.output_dir / "logs" / "connect-server.log"
    print(f"Starting a local Spark Connect server (log: {_shown(log, shown_from)})...",
          end=" ", flush=True)
    server = start_server(log)
    print(f"ready in {server.started_in:.1f} s (127.0.0.1:{server.port}, pid {server.pid})",
          flush=True)
    os.environ["SPARK_REMOTE"] = server.url  # kernels inherit it
    return f"shared local Spark Connect server (127.0.0.1:{server.port})", server


def _build_report(batch: Batch, results: list[Result], run_info: dict) -> str | None:
    from lib.report import build_report

    try:
        index = build_report(batch.params.output_dir, results=results, run_info=run_info)
    except Exception as error:  # noqa: BLE001 - the run's outputs stand without it
        print(f"report: FAILED to build: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    return _shown(index, batch.shown_from)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    user_cwd = Path.cwd()
    try:  # everything checked before any Spark starts
        params = make_params(args.data_dir, args.output_dir, args.as_of_date,
                             args.season_start_month, base_dir=user_cwd)
        from lib.readers import require_file

        require_file(params.customers_path)
        require_file(params.tickets_path)
        notebooks = _select((user_cwd / args.notebooks_dir).resolve(), args.only)
        jobs = _jobs(args.jobs, not args.no_shared_session)
    except TicketInsightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.chdir(PROJECT_ROOT)  # kernels start here; every path above is absolute
    for key in [k for k in os.environ if k.startswith("TICKET_INSIGHTS_")]:
        del os.environ[key]  # nbval's pinning must not override what we pass
    batch = Batch(params, notebooks, jobs, params.output_dir / "notebooks", user_cwd)
    batch.executed_dir.mkdir(parents=True, exist_ok=True)
    print(f"Ticket insights: {len(notebooks)} notebook(s); data {_shown(params.data_dir, user_cwd)}"
          f" -> {_shown(params.output_dir, user_cwd)}; as_of_date {params.as_of_date}; "
          f"season_start_month {params.season_start_month}", flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    began = time.monotonic()
    server = None
    try:
        spark_mode, server = _prepare_spark(not args.no_shared_session, params, user_cwd)
        print(f"Spark: {spark_mode}; {jobs} notebook(s) at once", flush=True)
        progress = Progress(len(notebooks))
        results, interrupted = _run_batch(batch, progress)
        progress.close()
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except TicketInsightsError as error:  # e.g. no Java, or the server did not start
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
            os.environ.pop("SPARK_REMOTE", None)
    seconds = time.monotonic() - began
    failed = [r for r in results if not r.ok]
    print()
    print(summary_table(results))
    print(f"\n{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} not ok, "
          f"in {seconds:.1f} s. Executed notebooks: {_shown(batch.executed_dir, user_cwd)}/")
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
