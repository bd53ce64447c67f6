"""Execute notebooks through papermill, each on its own warm kernel from a
:class:`~lib.suite.kernel_pool.KernelPool`.

Used by the suite runner (:mod:`lib.run`), one thread per running notebook.
Each kernel's stdout/stderr (and a local JVM's) goes to
``<output>/logs/NN_name.log``; on Ctrl-C or SIGTERM
:func:`~lib.suite.kernel_pool.kill_kernels` stops every kernel still running.
A kernel whose runner dies even by ``kill -9`` exits by itself within about a
second (ipykernel polls its parent process).
"""

from __future__ import annotations

import concurrent.futures as cf
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from lib.config import Params
from lib.manifest import manifest_path
from lib.suite.freshness import record_complete_run, recorded_outputs, run_fingerprint
from lib.suite.kernel_pool import KERNEL, KernelPool, kill_kernels
from lib.suite.progress import Progress, Result

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def error_summary(error: BaseException) -> str:
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


def run_notebook(notebook: Path, executed: Path, params: Params, progress: Progress,
                 kernels: KernelPool, shown_executed: str = "") -> Result:
    """Execute ``notebook`` into ``executed`` with the run's parameters; never
    raises for a notebook error (the result says FAILED and why). What it
    wrote comes from its manifest, which a success marks complete."""
    import papermill

    name = notebook.stem
    result = Result(name=name, executed=shown_executed or str(executed))
    fingerprint = run_fingerprint(notebook, params)  # what it runs with, taken first
    manifest_path(params.output_dir, name).unlink(missing_ok=True)
    progress.started(name)
    began = time.monotonic()
    km = None
    try:
        km = kernels.take(str(executed), params.output_dir / "logs" / f"{name}.log")
        papermill.execute_notebook(
            str(notebook), str(executed), kernel_name=KERNEL, progress_bar=False, km=km,
            parameters={
                "data_dir": str(params.data_dir),
                "output_dir": str(params.output_dir),
                "as_of_date": params.as_of_date.isoformat(),
                "season_start_month": params.season_start_month,
            },
        )
        result.status = "ok"
        result.outputs = record_complete_run(notebook, params, fingerprint)
    except Exception as error:  # noqa: BLE001 - any failure is reported, never fatal
        result.status = "FAILED"
        result.error = error_summary(error)
        result.outputs = recorded_outputs(notebook, params)
    finally:
        if km is not None:
            kernels.release(km)
    result.seconds = time.monotonic() - began
    progress.finished(result)
    return result


def run_batch(groups: list[list[Path]], jobs: int, run_one: Callable[[Path], Result],
              progress: Progress) -> tuple[list[Result], bool]:
    """Run each group of notebooks after the previous one, up to ``jobs`` at
    once. Ctrl-C (or SIGTERM raised as KeyboardInterrupt) kills the running
    kernels. Returns the results in notebook order and whether the run was
    interrupted; a notebook that never finished is "interrupted"."""
    notebooks = [nb for group in groups for nb in group]
    results: dict[str, Result] = {}
    futures: list[cf.Future] = []
    pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook")
    interrupted = False
    try:
        for group in groups:
            pending = {pool.submit(run_one, nb) for nb in group}
            futures.extend(pending)
            while pending:
                _, pending = cf.wait(pending, timeout=1.0)
                progress.tick()
    except KeyboardInterrupt:
        interrupted = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one clean-up at a time
        progress.close()
        print("\nInterrupted: stopping the running notebooks...", flush=True)
        pool.shutdown(wait=False, cancel_futures=True)
        kill_kernels()
        cf.wait(futures, timeout=30)
    finally:
        pool.shutdown(wait=not interrupted)
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            result = future.result()
            results[result.name] = result
    for nb in notebooks:
        result = results.setdefault(nb.stem, Result(name=nb.stem, status="interrupted"))
        if interrupted and result.status == "FAILED":
            result.status = "interrupted"
    return [results[nb.stem] for nb in notebooks], interrupted
