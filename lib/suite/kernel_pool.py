"""Jupyter kernels started and warmed up before a notebook needs one; each runs
exactly one notebook (docs/design.md, "Warm kernels").
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
WARM_UP = "import lib.notebook, lib.session, matplotlib.pyplot, pandas, pyspark.sql.connect.session"
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

_STARTED: list = []  # every kernel manager started by this process


class KernelError(RuntimeError):
    """A kernel did not start or could not be warmed up."""


class KernelPool:
    """Up to ``ahead`` warm kernels waiting, ``total`` started in all."""

    def __init__(self, log_dir: Path, total: int, ahead: int, cwd: Path, env: dict[str, str]):
        self.log_dir = log_dir
        self.total = total
        self._cwd, self._env = cwd, env
        self._ready: queue.Queue = queue.Queue()
        self._room = threading.Semaphore(max(1, ahead))
        self._remote: str | None = None
        self._aborted = ""  # why no kernel is to be handed out any more
        self._closed = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kernel-pool",
                                        daemon=True)

    def start(self) -> KernelPool:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._fill(), self._loop)
        return self

    def use_remote(self, url: str | None) -> None:
        """Spark Connect endpoint for the kernels (those started from now on connect)."""
        self._remote = url

    def take(self, log_path: Path):
        """A warm kernel (its manager) whose log is now ``log_path``; raises
        :class:`KernelError` if it could not start."""
        item = self._ready.get(timeout=START_TIMEOUT * 2)
        self._room.release()
        if isinstance(item, BaseException):
            raise item
        if self._aborted:  # the kernel is being killed
            raise KernelError(self._aborted)
        os.replace(item.log_path, log_path)  # the open log is now the notebook's
        return item

    def release(self, km, end_session: bool = True) -> None:
        """Shut down a kernel that ran its notebook, its Spark Connect session
        released first (unless the batch was aborted: its server may be gone;
        or ``end_session`` is false: the kernel was stopped mid-cell)."""
        if self._remote and not self._aborted and end_session:
            try:
                self._call(_execute(km, RELEASE, timeout=RELEASE_TIMEOUT))
            except Exception:  # noqa: BLE001 - best effort: the server's timeout still ends it
                pass
        self._call(km.shutdown_kernel(now=True))

    def interrupt(self, km) -> None:
        """Ctrl-C for the kernel: the running cell raises KeyboardInterrupt."""
        self._call(km.interrupt_kernel())

    def abort(self, reason: str) -> None:
        """Start no more kernels; a notebook waiting for one, or taking one
        from now on, gets :class:`KernelError` (``reason``) at once."""
        self._aborted = reason
        self._closed.set()
        self._room.release()
        for _ in range(self.total):
            self._ready.put(KernelError(reason))

    def close(self) -> None:
        """Stop starting kernels and shut down those never taken."""
        self._closed.set()
        self._room.release()
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, BaseException):
                self._call(item.shutdown_kernel(now=True))
                item.log_path.unlink(missing_ok=True)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(START_TIMEOUT)

    async def _fill(self) -> None:
        for number in range(self.total):
            await self._loop.run_in_executor(None, self._room.acquire)
            if self._closed.is_set():
                return
            try:
                self._ready.put(await self._start(number))
            except Exception as error:  # noqa: BLE001 - the notebook that takes it reports it
                self._ready.put(KernelError(f"kernel did not start: {error}"))

    async def _start(self, number: int):
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=KERNEL)
        km.log_path = self.log_dir / f".kernel-{os.getpid()}-{number}.log"
        remote = self._remote
        env = {**self._env, "SPARK_REMOTE": remote} if remote else self._env
        with open(km.log_path, "ab") as log:
            await km.start_kernel(stdout=log, stderr=log, cwd=str(self._cwd), env=env)
        _STARTED.append(km)
        await _execute(km, WARM_UP + ("\n" + CONNECT if remote else ""))
        return km


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
