"""JupyterLab on the project's warm Spark: ``python -m lib.suite.lab`` (``make lab``).

Starts or reuses the loopback Spark Connect server, then runs ``jupyter lab``
with ``SPARK_REMOTE`` set; arguments it does not know go to ``jupyter lab``.
The server's state file and lease: docs/design.md, "Lab and the server's state file".
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import PROJECT_ROOT
from lib.errors import TicketInsightsError
from lib.fileio import LockBusy, file_lock, scratch_path, wait_for_flock
from lib.suite.endpoint import accepts

HOST = "127.0.0.1"
STATE_ENV = "TICKET_INSIGHTS_SPARK_STATE"  # where the state file is, when not the default
SERVER_MARK = "SparkConnectServer"  # in the server's command line
LAB_START_TIMEOUT = 180.0
LAB_STOP_GRACE = 20.0
# s a launcher waits for another one starting or stopping the shared server
# (a start is bounded by connect_server.START_TIMEOUT, a stop by its grace)
LOCK_TIMEOUT = 240.0
_EMPTY_TOKEN = re.compile(r"""(?i)^--[\w.]*token\s*=\s*(''|""|)\s*$""")


def default_state_file() -> Path:
    return Path(os.environ.get(STATE_ENV) or PROJECT_ROOT / "output" / ".spark-server.json")


def _users_file(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".users")


def _start_lock(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".lock")


# -- the state file ----------------------------------------------------------------

def read_state(state_file: Path) -> dict | None:
    try:
        state = json.loads(Path(state_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _write_state(state_file: Path, state: dict) -> None:
    """Atomically, readable by this user only (it holds the server's token)."""
    scratch = scratch_path(state_file)
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1)
        os.replace(scratch, state_file)
    finally:
        scratch.unlink(missing_ok=True)


def _remove_state(state_file: Path, server_pid: int) -> None:
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
        if SERVER_MARK not in " ".join(psutil.Process(state["pid"]).cmdline()):
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
    users = os.fdopen(os.open(_users_file(state_file), os.O_RDWR | os.O_CREAT, 0o600), "r+")
    try:
        wait_for_flock(users, fcntl.LOCK_SH, LOCK_TIMEOUT)
    except BlockingIOError:
        users.close()
        raise TicketInsightsError(f"the shared Spark server is still being stopped after "
                                  f"{LOCK_TIMEOUT:.0f} s ({_users_file(state_file)}); "
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
                 ui_url=state.get("ui_url"), _users=users, log_path=state.get("log"))


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


def _start_shared_server(state_file: Path):
    """Start a server with its UI on loopback and record it. Returns (lease, server)."""
    from lib.suite.connect_server import free_port, start_server

    users = _share_lock(state_file)
    # The UI binds to SPARK_LOCAL_IP (else every interface): loopback only.
    os.environ["SPARK_LOCAL_IP"] = HOST
    ui_port = free_port()
    log = state_file.parent / "logs" / "lab-connect-server.log"
    print(f"Starting the shared Spark Connect server (log: {log})...", end=" ", flush=True)
    try:
        server = start_server(log, app_name="ticket-insights-lab", conf={
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
        _write_state(state_file, {"url": server.url, "pid": server.pid, "port": server.port,
                                  "ui_url": ui_url, "owner_pid": os.getpid(), "log": str(log)})
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
        with file_lock(_start_lock(state_file), timeout=LOCK_TIMEOUT):  # one starts at a time
            return _join_or_start(state_file)
    except LockBusy as busy:
        raise TicketInsightsError(f"another launcher (pid {busy.owner or '?'}) has been starting "
                                  f"the shared Spark server for {LOCK_TIMEOUT:.0f} s; "
                                  "run again in a moment") from None


def _join_or_start(state_file: Path):
    lease = join_running_server(state_file)
    if lease is not None:
        return lease, None
    return _start_shared_server(state_file)


def _stop_owned_server(server, lease: Lease, state_file: Path, wait: bool, stopper) -> None:
    """Stop the server this launcher started, once no one else uses it (when
    ``wait``); a signal meanwhile stops it at once."""
    lease.release()
    with open(_users_file(state_file), "a") as users:
        told = False
        while True:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # nobody else uses it
            except BlockingIOError:
                if not wait or stopper.signal_received is not None or not server.running():
                    break
            if not told:
                print(f"Another `make lab` or `make run` still uses the Spark server (pid "
                      f"{server.pid}): it stops when they are done. Ctrl-C stops it now.",
                      flush=True)
                told = True
            time.sleep(1.0)
        _remove_state(state_file, server.pid)
        print("Stopping the Spark Connect server...", end=" ", flush=True)
        server.stop()
        print("stopped.", flush=True)


# -- Lab -----------------------------------------------------------------------------

# Jupyter's address option in every spelling it accepts (it refuses two values)
_IP_OPTION = re.compile(r"^--(?:(?:ServerApp|NotebookApp)\.)?ip(?:=|$)")


def lab_command(notebook_dir: Path, extra: list[str], euid: int | None = None) -> list[str]:
    """The ``jupyter lab`` command: loopback unless ``extra`` names an address,
    no browser, token on; ``--allow-root`` only when running as root."""
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else -1
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
    command += [f"--notebook-dir={notebook_dir}", "--no-browser"]
    if not any(_IP_OPTION.match(arg) for arg in extra):  # the user's address wins
        command.append(f"--ServerApp.ip={HOST}")
    if euid == 0:
        command.append("--allow-root")
    return command + list(extra)


def _lab_url(lab: subprocess.Popen, timeout: float) -> str | None:
    """Lab's URL with its token, from the runtime file Lab writes for its pid."""
    from jupyter_core.paths import jupyter_runtime_dir

    info_file = Path(jupyter_runtime_dir()) / f"jpserver-{lab.pid}.json"
    deadline = time.monotonic() + timeout
    while lab.poll() is None and time.monotonic() < deadline:
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            time.sleep(0.3)
            continue
        host = info.get("hostname") or HOST
        host = HOST if host in ("0.0.0.0", "::", "localhost") else host  # any address: loopback works
        url = f"http://{host}:{info['port']}{info.get('base_url', '/')}lab"
        return f"{url}?token={info['token']}" if info.get("token") else url
    return None


class _Stopper:
    """Signal handling: before Lab runs a signal aborts the start; while Lab
    runs it is passed on to Lab (as SIGTERM: Lab shuts its kernels down)."""

    def __init__(self):
        self.signal_received: int | None = None
        self.lab: subprocess.Popen | None = None

    def __call__(self, signum, frame):
        first = self.signal_received is None
        self.signal_received = signum
        if self.lab is None:
            raise KeyboardInterrupt
        if first and self.lab.poll() is None:
            self.lab.terminate()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self)


def _wait_for_lab(lab: subprocess.Popen, stopper: _Stopper) -> int:
    """Until Lab exits; after a signal, SIGKILL its group if it has not gone in time."""
    deadline = None
    while True:
        try:
            return lab.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if stopper.signal_received is not None:
            deadline = deadline or time.monotonic() + LAB_STOP_GRACE
            if time.monotonic() > deadline:
                try:
                    os.killpg(lab.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _run_lab(command: list[str], lease: Lease, stopper: _Stopper) -> int:
    from lib.suite.connect_server import _PRCTL, _die_with_parent

    env = {**os.environ, "SPARK_REMOTE": lease.url}  # kernels inherit it
    stopper.lab = subprocess.Popen(
        command, env=env, cwd=str(PROJECT_ROOT), stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches this launcher, which stops Lab in order
        preexec_fn=_die_with_parent if _PRCTL is not None else None,  # dies with us
    )
    url = _lab_url(stopper.lab, LAB_START_TIMEOUT)
    if url:
        print(f"JupyterLab: {url}", flush=True)
    return _wait_for_lab(stopper.lab, stopper)


def _arguments(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m lib.suite.lab", allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog="Other arguments go to jupyter lab (e.g. --ServerApp.port=8899).",
    )
    parser.add_argument("--notebook-dir", default=str(PROJECT_ROOT / "notebooks"),
                        help="folder Lab opens (default: the project's notebooks/)")
    parser.add_argument("--state-file", default=None,
                        help=f"where the running server is recorded (default: ${STATE_ENV} "
                             "or output/.spark-server.json)")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, extra = _arguments(argv)
    if any(_EMPTY_TOKEN.match(arg) for arg in extra):
        print("error: JupyterLab keeps its token: an empty token is not allowed", file=sys.stderr)
        return 2
    notebook_dir = Path(args.notebook_dir).expanduser().resolve()
    if not notebook_dir.is_dir():
        print(f"error: notebook folder {notebook_dir} not found", file=sys.stderr)
        return 2
    state_file = Path(args.state_file).expanduser().resolve() if args.state_file \
        else default_state_file()
    stopper = _Stopper()
    stopper.install()
    server = lease = None
    try:
        if os.environ.get("SPARK_REMOTE", "").strip():  # an endpoint chosen by the caller
            lease = Lease(url=os.environ["SPARK_REMOTE"].strip(), port=0, pid=0, ui_url=None)
            print("Spark: the Spark Connect endpoint in SPARK_REMOTE (nothing started)",
                  flush=True)
        else:
            lease, server = acquire_server(state_file)
        if server is not None:
            print(f"Spark Connect server: {HOST}:{lease.port}, pid {lease.pid}", flush=True)
        elif lease.pid:
            print(f"Reusing the running Spark Connect server ({HOST}:{lease.port}, "
                  f"pid {lease.pid})", flush=True)
        if lease.ui_url:
            print(f"Spark UI: {lease.ui_url}", flush=True)
        code = _run_lab(lab_command(notebook_dir, extra), lease, stopper)
    except KeyboardInterrupt:
        code = 130
    except TicketInsightsError as error:  # no Java, or the server did not start
        print(f"\nerror: {error}", file=sys.stderr)
        code = 1
    finally:
        interrupted = stopper.signal_received is not None
        stopper.lab = stopper.lab or _NoLab()  # from here a signal no longer aborts
        if server is not None:
            # after Lab exits or Ctrl-C, wait for other users; SIGTERM/SIGHUP: stop now
            wait = stopper.signal_received in (None, signal.SIGINT)
            if wait:
                stopper.signal_received = None  # a further signal: stop now
            _stop_owned_server(server, lease, state_file, wait, stopper)
        elif lease is not None:
            lease.release()
    return 130 if interrupted else (1 if code < 0 else code)  # < 0: Lab was killed


class _NoLab:
    """Stands in for Lab after it has gone, so a signal no longer aborts."""

    def poll(self):
        return 0


if __name__ == "__main__":
    sys.exit(main())
