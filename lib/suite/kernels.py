"""Execute one notebook through papermill on its own Jupyter kernel.

Used by the suite runner (:mod:`lib.run`), one thread per running notebook.
Kernels start one at a time (kernels started at the same moment can race for
the same free ports, a known papermill/jupyter-client problem), each kernel's
stdout/stderr (and a local JVM's) goes to ``<output>/logs/NN_name.log``, and
:func:`kill_kernels` stops every kernel still running on Ctrl-C or SIGTERM.
A kernel whose runner dies even by ``kill -9`` exits by itself within about a
second (ipykernel polls its parent process).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lib.config import Params
from lib.manifest import manifest_path
from lib.suite.freshness import record_complete_run, recorded_outputs, run_fingerprint
from lib.suite.progress import Progress, Result

KERNEL = "ticket-insights"
KERNEL_START_TIMEOUT = 180  # s; kernels start while a JVM may be busy on both cores
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
                 shown_executed: str = "") -> Result:
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
    _THIS_THREAD.session_name = str(executed)
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
        result.outputs = record_complete_run(notebook, params, fingerprint)
    except Exception as error:  # noqa: BLE001 - any failure is reported, never fatal
        result.status = "FAILED"
        result.error = error_summary(error)
        result.outputs = recorded_outputs(notebook, params)
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


# -- kernels: started one at a time, killed on Ctrl-C ------------------------

_KERNEL_START = threading.Lock()
# .kernel_log: where the next kernel logs; .session_name: its notebook, which
# the kernel learns from JPY_SESSION_NAME as under Jupyter Server
_THIS_THREAD = threading.local()
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
    listens on all its ports."""
    if _KM_CLASS:
        return _KM_CLASS[0]
    from jupyter_client.manager import AsyncKernelManager

    class OneAtATimeKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            log_path = getattr(_THIS_THREAD, "kernel_log", None)
            session = getattr(_THIS_THREAD, "session_name", None)
            if session:
                kw["env"] = {**(kw.get("env") or os.environ), "JPY_SESSION_NAME": session}
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


def kill_kernels() -> None:
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
