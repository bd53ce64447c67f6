"""Execute notebooks through papermill, each on a warm kernel from a
:class:`~lib.suite.kernel_pool.KernelPool`, one thread per running notebook, each
with its log, its time limit and a stop on Ctrl-C or a :class:`~lib.suite.watch.Halt`.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from lib.config import Params
from lib.fileio import scratch_path
from lib.manifest import manifest_path
from lib.run_context import RunContext
from lib.suite.freshness import record_complete_run, recorded_outputs
from lib.suite.kernel_pool import KERNEL, KernelPool, kill_kernel, kill_kernels
from lib.suite.models import Result, Status
from lib.suite.processes import strip_ansi
from lib.suite.progress import Progress
from lib.suite.watch import Halt, named_failure

HALT_WAIT = 30.0  # s a notebook whose Spark server died may take to fail
KILL_AFTER = 15.0  # s a timed-out notebook gets to stop on Ctrl-C before its kernel is killed
# papermill writes the executed copy under a hidden scratch name (.NN_x.ipynb.<id>.tmp)
warnings.filterwarnings("ignore", message=r"The specified file .* does not end in one of")


def error_summary(error: BaseException, output_dir: Path | None = None) -> str:
    """The failing cell (index, execution count, first line) and the error's
    first lines; one line naming the cause when it is a known one (disk full
    in ``output_dir``, Spark out of memory)."""
    from papermill.exceptions import PapermillExecutionError

    named = named_failure(f"{type(error).__name__}: {error}", output_dir or Path("."))
    if named:
        return named
    if isinstance(error, PapermillExecutionError):
        first_line = next((ln for ln in error.source.splitlines()
                           if ln.strip() and not ln.startswith("# NBVAL")), "")
        message = strip_ansi(f"{error.ename}: {error.evalue}").strip().splitlines()
        lines = [f"cell {error.cell_index} (In [{error.exec_count}]): {first_line.strip()}"]
        return "\n".join(lines + message[:6])
    message = strip_ansi(f"{type(error).__name__}: {error}").strip().splitlines()
    return "\n".join(message[:6])


class Deadline:
    """Ends a notebook that runs past ``seconds``: its kernel is interrupted (the
    running cell raises KeyboardInterrupt, so papermill names it), and killed
    :data:`KILL_AFTER` s later if the cell ignored that (e.g. stuck in the JVM)."""

    def __init__(self, seconds: float, kernels: KernelPool, km):
        self.seconds = seconds
        self.expired = threading.Event()
        self._kernels, self._km = kernels, km
        self._timers = [threading.Timer(seconds, self._interrupt),
                        threading.Timer(seconds + KILL_AFTER, self._kill)]
        for timer in self._timers:
            timer.daemon = True
            timer.start()

    def _interrupt(self) -> None:
        self.expired.set()
        try:
            self._kernels.interrupt(self._km)
        except Exception:  # noqa: BLE001 - the kill that follows ends it anyway
            pass

    def _kill(self) -> None:
        kill_kernel(self._km)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()

    def explain(self, summary: str) -> str:
        """The failure's one line: the time limit, then where it stopped."""
        where = (f" in {summary.splitlines()[0]}" if summary.startswith("cell ")
                 else f"; it ignored Ctrl-C, so its kernel was killed {KILL_AFTER:.0f} s later")
        return (f"timed out after {self.seconds:.0f} s (the --timeout per notebook){where}; "
                "run with a larger --timeout (make run TIMEOUT=...) if it only needs longer")


def load_notebook_tools() -> None:
    """papermill (with nbformat and jsonschema) and the page exporter, loaded
    while the Spark server starts; else the first notebooks wait for the
    import once the server is ready. A failing import is reported where the
    tool is used."""
    _skip_iri_grammars()
    try:
        import papermill  # noqa: F401

        from lib.suite.pages import load_exporter

        load_exporter()
    except Exception:  # noqa: BLE001 - the notebook's own import raises it again, named
        pass


def _skip_iri_grammars() -> None:
    """With rfc3987-syntax installed (JupyterLab's jupyter-events needs it),
    jsonschema builds its Lark grammars for the ``iri`` formats on import: 1.0
    of the 1.5 CPU s that loading the notebook tools takes, at the run's start
    where the Spark server's JVM wants both cores. No notebook schema uses those
    formats; with the module marked absent in this process, jsonschema leaves
    them unchecked. A process that imported it already keeps it."""
    sys.modules.setdefault("rfc3987_syntax", None)


def run_notebook(notebook: Path, executed: Path, params: Params, progress: Progress,
                 kernels: KernelPool, shown_executed: str, fingerprint: str,
                 timeout: float, context: RunContext) -> Result:
    """Execute ``notebook`` into ``executed`` with the run's parameters and
    ``context`` (written to a file the notebook reads), for ``timeout`` seconds
    at most; never raises for a notebook error (the result says FAILED and
    why). What it wrote comes from its manifest, which a success marks
    complete with ``fingerprint`` (the batch's, taken when the batch started)."""
    import papermill

    name = notebook.stem
    result = Result(name=name, executed=shown_executed or str(executed))
    context_file = context.path(params.output_dir)
    manifest_path(params.output_dir, name).unlink(missing_ok=True)
    progress.started(name)
    began = time.monotonic()
    km, deadline = None, None
    scratch = scratch_path(executed)  # the executed copy, renamed in place at the end
    try:
        context.write(context_file)  # a full disk fails here: the notebook, named
        km = kernels.take(params.output_dir / "logs" / f"{name}.log")
        deadline = Deadline(timeout, kernels, km)
        try:
            papermill.execute_notebook(
                str(notebook), str(scratch), kernel_name=KERNEL, progress_bar=False, km=km,
                parameters={
                    "data_dir": str(params.data_dir),
                    "output_dir": str(params.output_dir),
                    "as_of_date": params.as_of_date.isoformat(),
                    "season_start_month": params.season_start_month,
                    "run_context": str(context_file),
                },
            )
        finally:
            if not _publish(scratch, executed):
                result.executed = ""  # none written whole: do not point at an older one
        result.status = Status.OK
        result.outputs = record_complete_run(notebook, params, fingerprint)
    except Exception as error:  # noqa: BLE001 - any failure is reported, never fatal
        result.status = Status.FAILED
        result.error = error_summary(error, params.output_dir)
        if deadline is not None and deadline.expired.is_set():
            result.error = deadline.explain(result.error)
        result.outputs = recorded_outputs(notebook, params)
    finally:
        context_file.unlink(missing_ok=True)
        if deadline is not None:
            deadline.cancel()
        if km is not None:
            kernels.release(km, end_session=deadline is None or not deadline.expired.is_set(),
                            reuse=result.status == Status.OK)
    result.seconds = time.monotonic() - began
    progress.finished(result)
    return result


def _publish(scratch: Path, executed: Path) -> bool:
    """Put papermill's executed copy in place if it was written whole (a full
    disk can cut it short: then the previous copy stays as it was)."""
    import nbformat

    try:
        try:
            nb = nbformat.read(scratch, as_version=4)
        except Exception:  # noqa: BLE001 - never written, or cut short
            return False
        nb.metadata.setdefault("papermill", {})["output_path"] = str(executed)
        nbformat.write(nb, scratch)
        os.replace(scratch, executed)
        return True
    finally:
        scratch.unlink(missing_ok=True)


def run_batch(groups: list[list[Path]], jobs: int, run_one: Callable[[Path], Result],
              progress: Progress, halt: Halt | None = None,
              next_may_start: Callable[[], bool] | None = None) -> tuple[list[Result], bool]:
    """Run each group of notebooks after the previous one, up to ``jobs`` at
    once; once ``next_may_start()`` is true, the next group starts while the
    current one still runs (e.g. 00 has staged the data). Ctrl-C (or SIGTERM
    raised as KeyboardInterrupt) kills the running kernels. Returns the results in notebook order and whether the run was
    interrupted; a notebook that never finished is "interrupted". Once
    ``halt`` has a reason, no notebook starts ("not run"), and those running
    when it came fail with that reason if it kills them."""
    halt = halt or Halt()

    def one(notebook: Path) -> Result:
        result = run_one(notebook)
        if halt.kill_running and result.status == Status.FAILED:  # killed for the halt
            result.error = halt.reason
        return result

    notebooks = [nb for group in groups for nb in group]
    results: dict[str, Result] = {}
    futures: dict[cf.Future, str] = {}  # -> notebook name
    pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook")
    interrupted, hung = False, set()  # hung: given up after a killing halt
    try:
        pending: dict[cf.Future, str] = {}
        for number, group in enumerate(groups):
            started = {pool.submit(one, nb): nb.stem for nb in group if not halt.reason}
            futures.update(started)
            pending.update(started)
            early = next_may_start if number < len(groups) - 1 else None
            while pending and not (early and early()):
                done, _ = cf.wait(pending, timeout=0.5)
                pending = {f: name for f, name in pending.items() if f not in done}
                progress.tick()
                if halt.reason:
                    hung = _halt_batch(pending, halt)
                    pending = {}
    except KeyboardInterrupt:
        interrupted = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one clean-up at a time
        progress.close()
        print("\nInterrupted: stopping the running notebooks...", flush=True)
        pool.shutdown(wait=False, cancel_futures=True)
        kill_kernels()
        cf.wait(started_only(futures), timeout=30)
    finally:
        pool.shutdown(wait=not interrupted and not any(f.running() for f in futures))
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            result = future.result()
            results[result.name] = result
    for nb in notebooks:
        result = results.get(nb.stem)
        if result is None and halt.reason and not interrupted:
            result = results[nb.stem] = Result(name=nb.stem, error=halt.reason,
                                               status=Status.FAILED if nb.stem in hung
                                               else Status.NOT_RUN)
            progress.finished(result)
        result = results.setdefault(nb.stem, Result(name=nb.stem, status=Status.INTERRUPTED))
        if interrupted and result.status == Status.FAILED:
            result.status = Status.INTERRUPTED
    return [results[nb.stem] for nb in notebooks], interrupted


def started_only(futures) -> list[cf.Future]:
    """The futures a pool started: those it cancelled on shutdown
    (``cancel_futures=True``) never count as done for :func:`cf.wait`, which
    would sit out its whole timeout on them."""
    return [future for future in futures if not future.cancelled()]


def _halt_batch(pending: dict[cf.Future, str], halt: Halt) -> set[str]:
    """Cancel the notebooks not started; wait for those running (at most
    :data:`HALT_WAIT` s when their Spark is gone, as they are being killed).
    Returns the names of those still running then."""
    for future in pending:
        future.cancel()
    running = {f: pending[f] for f in started_only(pending)}
    cf.wait(running, timeout=HALT_WAIT if halt.kill_running else None)
    return {name for f, name in running.items() if not f.done()}
