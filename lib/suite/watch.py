"""What stops a batch before its end, and the one line that says why
(docs/design.md, "What stops a batch").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from lib.errors import InputChangedError
from lib.session import out_of_memory_message

WATCH_EVERY = 0.5  # s between looks at the server process
_DISK_FULL = ("No space left on device", "[Errno 28]", "ENOSPC")
# what a JVM short of memory writes (the last: too small a heap to start at all)
NO_MEMORY = ("OutOfMemoryError", "Java heap space", "GC overhead limit exceeded",
             "Please increase heap size")
JVM_OOM_EXIT = 52  # Spark's exit code for a JVM stopped by OutOfMemoryError


def disk_full(folder: Path) -> str:
    return f"no space left on device in {folder}: free some space there, then run again"


def named_failure(text: str, output_dir: Path) -> str | None:
    """The one-line message for an error with a known cause, else None."""
    if any(mark in text for mark in _DISK_FULL):
        return disk_full(output_dir)
    if any(mark in text for mark in NO_MEMORY):
        return out_of_memory_message()
    return None


def out_of_memory_in_log(path: Path) -> bool:
    """True when the end of the server's log says the JVM ran out of memory."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 256 * 1024))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return False
    return any(mark in tail for mark in NO_MEMORY)


class Halt:
    """Why a batch stops early; the first reason set wins. ``kill_running``:
    the notebooks still running cannot finish (their Spark is gone)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kill_running = False
        self.exit_code = 1
        self.reason = ""

    def set(self, reason: str, kill_running: bool = False, exit_code: int = 1) -> bool:
        with self._lock:
            if self.reason:
                return False
            self.kill_running, self.exit_code = kill_running, exit_code
            self.reason = reason
            return True

    def after(self, error: str, output_dir: Path) -> None:
        """Stop the batch after a notebook failed for a reason every other
        notebook would fail for too."""
        if error in (disk_full(output_dir), out_of_memory_message()):
            self.set(error)
        elif InputChangedError.__name__ in error:
            self.set(error.splitlines()[-1], exit_code=2)


def server_stopped(server) -> str:
    """One line for a Spark Connect server (:class:`~lib.suite.connect_server.
    ConnectServer`, or a :class:`~lib.suite.shared_server.Lease` on ``make lab``'s)
    whose process has ended."""
    if server.process is None:  # someone else's server: its exit code is not ours to read
        return f"the Spark server stopped (pid {server.pid}); its log: {server.log_path}"
    code = server.process.returncode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    if code == JVM_OOM_EXIT or out_of_memory_in_log(server.log_path):
        return f"the Spark server stopped ({how}): {out_of_memory_message()}"
    return f"the Spark server stopped ({how}); its log: {server.log_path}"


class ServerWatch:
    """Looks at the server process every :data:`WATCH_EVERY` s; when it has
    ended, sets ``halt`` (notebooks still running are to be killed) and calls
    ``on_stop`` once. :meth:`close` it before stopping the server on purpose."""

    def __init__(self, server, halt: Halt, on_stop: Callable[[], None]):
        self.server, self.halt, self.on_stop = server, halt, on_stop
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="server-watch", daemon=True)

    def start(self) -> ServerWatch:
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_EVERY):
            if not self.server.running():
                if not self._closed.is_set() and self.halt.set(
                        server_stopped(self.server), kill_running=True):
                    self.on_stop()
                return

    def close(self) -> None:
        self._closed.set()
