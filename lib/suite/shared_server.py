"""The register and lease of the shared Spark Connect server: the one ``make lab``
starts (:mod:`lib.suite.lab`) and ``make run`` joins while it runs.

The running server is recorded in a JSON file only its user can read
(``output/.spark-server.json``: URL with the token, pid, port, Spark UI). Every
launcher that uses the server (and any process that joins it through
:func:`join_running_server`, as the suite runner does) holds a shared ``flock``
on a file next to it for as long as it does (a :class:`Lease`). The launcher
that started the server (:func:`acquire_server`, one start at a time) stops it
with :func:`stop_owned_server` once no one else holds the lock, or at once
after a signal. A server started by a keeper (:mod:`lib.suite.warm_server`)
is recorded with the keeper's pid, its JVM options and its idle timeout.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import PROJECT_ROOT
from lib.errors import TicketInsightsError
from lib.fileio import LockBusy, file_lock, wait_for_flock, write_private_text
from lib.suite import class_archive
from lib.suite.connect_server import HOST, SERVER_CLASS, free_port, start_server
from lib.suite.processes import accepts

# s a launcher waits for another one starting or stopping the shared server
# (a start is bounded by connect_server.START_TIMEOUT, a stop by its grace)
LOCK_TIMEOUT = 240.0


def default_state_file() -> Path:
    return PROJECT_ROOT / "output" / ".spark-server.json"


def users_file(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".users")


def start_lock(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".lock")


# -- the state file ----------------------------------------------------------------

def read_state(state_file: Path) -> dict | None:
    try:
        state = json.loads(Path(state_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(state_file: Path, state: dict) -> None:
    """Atomically, readable by this user only (it holds the server's token)."""
    write_private_text(state_file, json.dumps(state, indent=1))


def remove_state(state_file: Path, server_pid: int) -> None:
    state = read_state(state_file)
    if state is not None and state.get("pid") == server_pid:
        state_file.unlink(missing_ok=True)


def server_is_up(state: dict | None) -> bool:
    """The recorded server's process is alive, is a Spark Connect server, and
    its port answers."""
    if not state or not isinstance(state.get("pid"), int) or not state.get("url"):
        return False
    import psutil

    try:
        if SERVER_CLASS not in " ".join(psutil.Process(state["pid"]).cmdline()):
            return False  # the pid now belongs to something else
    except (psutil.Error, OSError):
        return False
    return accepts(HOST, state.get("port"))


# -- using a server ------------------------------------------------------------------

@dataclass
class Lease:
    """A running server this process uses; holds the shared lock until released."""

    url: str = field(repr=False)
    port: int
    pid: int
    ui_url: str | None
    _users: object = field(default=None, repr=False)  # the open, share-locked users file
    log_path: str | None = None  # the server's log, as its owner recorded it
    keeper_pid: int | None = None  # a warm server's keeper (lib.suite.warm_server); None: Lab's
    java_options: list | None = None  # a warm server's JVM options, as its keeper recorded them
    idle_seconds: float | None = None  # a warm server's idle timeout
    process = None  # not this process's child: no exit code to read

    def running(self) -> bool:
        """The server's process is still alive (for :class:`lib.suite.watch.ServerWatch`)."""
        import psutil

        try:
            return psutil.Process(self.pid).status() not in (psutil.STATUS_ZOMBIE,
                                                             psutil.STATUS_DEAD)
        except psutil.Error:
            return False

    def release(self) -> None:
        if self._users is not None:
            self._users.close()  # drops the flock
            self._users = None

    stop = release  # so a caller can treat it like a server it started


def _share_lock(state_file: Path):
    """Open the users file and hold a shared flock on it (waits while the
    server's owner is stopping it)."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    users = os.fdopen(os.open(users_file(state_file), os.O_RDWR | os.O_CREAT, 0o600), "r+")
    try:
        wait_for_flock(users, fcntl.LOCK_SH, LOCK_TIMEOUT)
    except BlockingIOError:
        users.close()
        raise TicketInsightsError(f"the shared Spark server is still being stopped after "
                                  f"{LOCK_TIMEOUT:.0f} s ({users_file(state_file)}); "
                                  "run again in a moment") from None
    return users


def join_running_server(state_file: Path | None = None) -> Lease | None:
    """The recorded server, if it is up, with a lease on it; else None.

    While the lease is held the server's owner keeps the server running;
    call :meth:`Lease.release` when done.
    """
    state_file = Path(state_file or default_state_file())
    if not state_file.exists():
        return None
    users = _share_lock(state_file)
    state = read_state(state_file)
    if not server_is_up(state):
        users.close()
        return None
    return Lease(url=state["url"], port=state["port"], pid=state["pid"],
                 ui_url=state.get("ui_url"), _users=users, log_path=state.get("log"),
                 keeper_pid=state.get("keeper_pid"), java_options=state.get("java_options"),
                 idle_seconds=state.get("idle_seconds"))


def _ui_answers(url: str, timeout: float = 30.0) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(url + "/api/v1/applications", timeout=5) as response:
                return response.status == 200
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def start_shared_server(state_file: Path, java_options: tuple[str, ...] = (),
                         log_name: str = "lab-connect-server.log",
                         app_name: str = "ticket-insights-lab", recorded: dict | None = None):
    """Start a server with its UI on loopback and record it, with ``recorded``
    added to its state (a keeper's facts). Returns (lease, server)."""
    users = _share_lock(state_file)
    ui_port = free_port()
    log = state_file.parent / "logs" / log_name
    print(f"Starting the shared Spark Connect server (log: {log})...", end=" ", flush=True)
    try:
        server = start_server(log, app_name=app_name, java_options=tuple(java_options), conf={
            "spark.ui.enabled": "true",
            "spark.ui.port": str(ui_port),
            "spark.ui.showConsoleProgress": "false",
        })
    except BaseException:
        users.close()
        raise
    try:
        print(f"ready in {server.started_in:.1f} s", flush=True)
        ui_url = f"http://{HOST}:{ui_port}"
        if not _ui_answers(ui_url):
            print(f"warning: the Spark UI does not answer at {ui_url}", file=sys.stderr)
            ui_url = None
        write_state(state_file, {"url": server.url, "pid": server.pid, "port": server.port,
                                 "ui_url": ui_url, "owner_pid": os.getpid(), "log": str(log),
                                 **(recorded or {})})
    except BaseException:
        server.stop()
        users.close()
        raise
    lease = Lease(url=server.url, port=server.port, pid=server.pid, ui_url=ui_url, _users=users)
    return lease, server


def acquire_server(state_file: Path):
    """Reuse the recorded server when it is up, else start one. Returns
    (lease, server): ``server`` is None when reused (someone else owns it)."""
    try:
        with file_lock(start_lock(state_file), timeout=LOCK_TIMEOUT):  # one starts at a time
            return _join_or_start(state_file)
    except LockBusy as busy:
        raise TicketInsightsError(f"another launcher (pid {busy.owner or '?'}) has been starting "
                                  f"the shared Spark server for {LOCK_TIMEOUT:.0f} s; "
                                  "run again in a moment") from None


def _join_or_start(state_file: Path):
    lease = join_running_server(state_file)
    if lease is not None:
        return lease, None
    return start_shared_server(state_file, class_archive.for_server())


def stop_owned_server(server, lease: Lease, state_file: Path, wait: bool,
                      signalled: Callable[[], bool]) -> None:
    """Stop the server this launcher started, once no one else uses it (when
    ``wait``); a signal meanwhile (``signalled()``) stops it at once."""
    lease.release()
    with open(users_file(state_file), "a") as users:
        told = False
        while True:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # nobody else uses it
            except BlockingIOError:
                if not wait or signalled() or not server.running():
                    break
            if not told:
                print(f"Another `make lab` or `make run` still uses the Spark server (pid "
                      f"{server.pid}): it stops when they are done. Ctrl-C stops it now.",
                      flush=True)
                told = True
            time.sleep(1.0)
        remove_state(state_file, server.pid)
        print("Stopping the Spark Connect server...", end=" ", flush=True)
        server.stop()
        print("stopped.", flush=True)
