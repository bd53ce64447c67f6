"""Jupyter kernels started and warmed up before a notebook needs one; on a shared
Spark server a kernel whose notebook succeeded is reset and runs the next one
(docs/design.md, "Warm kernels").
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import threading
import time
from pathlib import Path

KERNEL = "ticket-insights"
START_TIMEOUT = 180  # s; kernels start while a JVM may be busy on both cores
# The imports every notebook needs, then gc.freeze(): what they made lives as long
# as the kernel, so the collector stops walking it (each reset's collection
# 0.16 -> 0.01 CPU s, bench/README.md, fourteenth session).
WARM_UP = """import lib.notebook, lib.session, matplotlib.pyplot, pandas, pyspark.sql.connect.session
import gc
gc.freeze()"""
CONNECT = "lib.session.get_spark()"  # on SPARK_REMOTE of the kernel's environment
# Ends the kernel's Spark Connect session on the server (ReleaseSession). A
# kernel that is just shut down leaves it there, with everything it holds,
# until the server's idle timeout (an hour): a server that outlives the run
# (``make lab``'s, a cluster's) would grow by every notebook run on it.
RELEASE = """from pyspark.sql.connect.session import SparkSession as _Connect
_session = _Connect.getActiveSession() or _Connect._default_session
if _session is not None:
    _session.stop()"""
RELEASE_TIMEOUT = 30  # s; a release is one call, but the server may be busy
# Makes a kernel whose notebook succeeded fit for the next one (after RELEASE):
# its figures closed, its namespace emptied, its execution count back at 1.
# Imported modules stay: that is the saving.
RESET = """import matplotlib.pyplot as _plt
_plt.close("all")
_ip = get_ipython()
_ip.execution_count = 1
_ip.run_line_magic("reset", "-f")"""

_STARTED: list = []  # every kernel manager started by this process


class KernelError(RuntimeError):
    """A kernel did not start or could not be warmed up."""


class KernelPool:
    """Warm kernels for ``total`` notebooks, started one at a time.

    Without ``reuse`` each kernel runs one notebook and up to ``ahead`` wait
    warm. With ``reuse`` (notebooks on a shared Spark server) at most
    ``ahead`` kernels live, and one whose notebook succeeded goes back to the
    pool reset (:data:`RESET`) while notebooks are still to come; a kernel is
    shut down after a failure, a time-out or an abort, and a new one started
    in its place if it is still needed.
    """

    def __init__(self, log_dir: Path, total: int, ahead: int, cwd: Path, env: dict[str, str],
                 reuse: bool = False):
        self.log_dir = log_dir
        self.total = total
        self._cwd, self._env, self._reuse = cwd, env, reuse
        self._ahead = max(1, ahead)
        self._ready: queue.Queue = queue.Queue()
        self._count = threading.Lock()  # guards the three counts below
        self._untaken = total  # notebooks that will still take a kernel
        self._coming = 0  # kernels waiting in the pool or starting
        self._running = 0  # kernels running a notebook
        self._started = 0
        self._remote: str | None = None
        self._aborted = ""  # why no kernel is to be handed out any more
        self._closed = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._one_start = asyncio.Lock()  # kernels started together race for ports
        self._thread = threading.Thread(target=self._loop.run_forever, name="kernel-pool",
                                        daemon=True)

    def start(self) -> KernelPool:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        self._top_up()
        return self

    def use_remote(self, url: str | None) -> None:
        """Spark Connect endpoint for the kernels (those started from now on connect)."""
        self._remote = url

    def take(self, log_path: Path):
        """A warm kernel (its manager) whose output from now on goes to
        ``log_path`` (:func:`_log_to`); raises :class:`KernelError` if it
        could not start."""
        item = self._ready.get(timeout=START_TIMEOUT * 2)
        with self._count:
            self._untaken -= 1
            self._coming -= 1
            self._running += not isinstance(item, BaseException)
        self._top_up()
        if isinstance(item, BaseException):
            raise item
        if self._aborted:  # the kernel is being killed
            raise KernelError(self._aborted)
        _log_to(item, log_path)
        return item

    def release(self, km, end_session: bool = True, reuse: bool = False) -> None:
        """Take back a kernel that ran its notebook. With ``reuse`` (its
        notebook succeeded) it is reset for the next notebook if one still
        needs a kernel; otherwise it is shut down, its Spark Connect session
        released first (unless the batch was aborted: its server may be gone;
        or ``end_session`` is false: the kernel was stopped mid-cell). Its
        output since it was taken goes to the notebook's log either way."""
        try:
            if reuse and self._reuse and self._recycle(km):
                return
            if self._remote and not self._aborted and end_session:
                try:
                    self._call(_execute(km, RELEASE, timeout=RELEASE_TIMEOUT))
                except Exception:  # noqa: BLE001 - best effort: the server's timeout still ends it
                    pass
            try:
                self._call(km.shutdown_kernel(now=True))
            finally:
                _hand_over_log(km)
        finally:
            with self._count:
                self._running -= 1
            self._top_up()

    def _recycle(self, km) -> bool:
        """Reset ``km`` and put it back in the pool if a notebook still needs
        it; False when none does or the reset failed (then it is shut down)."""
        with self._count:
            if self._closed.is_set() or self._aborted or self._untaken <= self._coming:
                return False
            self._coming += 1
        try:
            self._call(_execute(km, RELEASE + "\n" + RESET, timeout=RELEASE_TIMEOUT))
            _hand_over_log(km)
        except Exception:  # noqa: BLE001 - not fit for another notebook: shut it down
            with self._count:
                self._coming -= 1
            return False
        self._ready.put(km)
        return True

    def _top_up(self) -> None:
        """Start kernels for the notebooks still to come that none is coming
        for, within ``ahead`` (waiting ones, or live ones with ``reuse``)."""
        while True:
            with self._count:
                live = self._coming + (self._running if self._reuse else 0)
                if (self._closed.is_set() or self._aborted or self._untaken <= self._coming
                        or live >= self._ahead):
                    return
                self._coming += 1
                number, self._started = self._started, self._started + 1
            asyncio.run_coroutine_threadsafe(self._start_into_pool(number), self._loop)

    def interrupt(self, km) -> None:
        """Ctrl-C for the kernel: the running cell raises KeyboardInterrupt."""
        self._call(km.interrupt_kernel())

    def abort(self, reason: str) -> None:
        """Start no more kernels; a notebook waiting for one, or taking one
        from now on, gets :class:`KernelError` (``reason``) at once."""
        self._aborted = reason
        self._closed.set()
        for _ in range(self.total):
            self._ready.put(KernelError(reason))

    def close(self) -> None:
        """Stop starting kernels and shut down those waiting in the pool (a
        reset one's log is its first notebook's: it stays)."""
        self._closed.set()
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, BaseException):
                self._call(item.shutdown_kernel(now=True))
                if not item.ran_a_notebook:
                    item.log_path.unlink(missing_ok=True)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT)

    async def _start_into_pool(self, number: int) -> None:
        async with self._one_start:
            if self._closed.is_set():
                return
            try:
                self._ready.put(await self._start(number))
            except Exception as error:  # noqa: BLE001 - the notebook that takes it reports it
                self._ready.put(KernelError(f"kernel did not start: {error}"))

    async def _start(self, number: int):
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=KERNEL)
        km.log_path = self.log_dir / f".kernel-{os.getpid()}-{number}.log"  # its stdout, stderr
        km.notebook_log = None  # set while the output of a later notebook is to be moved
        km.ran_a_notebook = False
        remote = self._remote
        env = {**self._env, "SPARK_REMOTE": remote} if remote else self._env
        with open(km.log_path, "ab") as log:
            await km.start_kernel(stdout=log, stderr=log, cwd=str(self._cwd), env=env)
        _STARTED.append(km)
        await _execute(km, WARM_UP + ("\n" + CONNECT if remote else ""))
        return km


def _log_to(km, log_path: Path) -> None:
    """Send what ``km`` writes while it runs a notebook to ``log_path``. The
    first time, its log is renamed there (the open file follows); after that
    its output is moved there from that file when the notebook ends."""
    if not km.ran_a_notebook:
        os.replace(km.log_path, log_path)
        km.log_path, km.ran_a_notebook = log_path, True
        return
    log_path.write_bytes(b"")  # the notebook's log is there from its start
    km.notebook_log, km.log_offset = log_path, km.log_path.stat().st_size


def _hand_over_log(km) -> None:
    """Move what the kernel wrote since :func:`_log_to` into the notebook's
    log, when it went to an earlier notebook's (the kernel appends, so the
    earlier log is cut back to where it was)."""
    if km.notebook_log is None:
        return
    try:
        with open(km.log_path, "r+b") as source, open(km.notebook_log, "ab") as log:
            source.seek(km.log_offset)
            while chunk := source.read(1 << 20):
                log.write(chunk)
            source.truncate(km.log_offset)
    except OSError:
        pass  # a log is never worth failing the batch for
    km.notebook_log = None


async def _execute(km, code: str, timeout: float = START_TIMEOUT) -> None:
    """Run ``code`` in the kernel, outside its history (execution counts of the
    notebook start at 1 as usual)."""
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        reply = await client.execute_interactive(code, store_history=False, silent=False,
                                                 timeout=timeout, output_hook=lambda _: None)
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}")
    finally:
        client.stop_channels()


def _kernel_group(km) -> int | None:
    """The process group of a kernel still running (it and a local JVM), else None."""
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    if process is None or process.poll() is not None:
        return None
    return getattr(provisioner, "pgid", None) or process.pid


def _live_kernel_groups() -> list[int]:
    return [group for km in list(_STARTED) if (group := _kernel_group(km)) is not None]


def kill_kernel(km) -> None:
    """SIGKILL one kernel and what it started (a cell that ignores Ctrl-C)."""
    group = _kernel_group(km)
    if group is not None:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


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
