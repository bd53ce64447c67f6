"""JupyterLab on the project's warm Spark: ``python -m lib.suite.lab`` (``make lab``).

Starts or reuses the loopback Spark Connect server, then runs ``jupyter lab``
with ``SPARK_REMOTE`` set; arguments it does not know go to ``jupyter lab``.
The server's state file and lease: docs/design.md, "Lab and the server's state file".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from lib.config import PROJECT_ROOT
from lib.errors import TicketInsightsError
from lib.suite.connect_server import HOST
from lib.suite.processes import DIE_WITH_PARENT
from lib.suite.shared_server import (
    Lease,
    acquire_server,
    default_state_file,
    stop_owned_server,
)

LAB_START_TIMEOUT = 180.0
LAB_STOP_GRACE = 20.0
_EMPTY_TOKEN = re.compile(r"""(?i)^--[\w.]*token\s*=\s*(''|""|)\s*$""")


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
    env = {**os.environ, "SPARK_REMOTE": lease.url}  # kernels inherit it
    stopper.lab = subprocess.Popen(
        command, env=env, cwd=str(PROJECT_ROOT), stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches this launcher, which stops Lab in order
        preexec_fn=DIE_WITH_PARENT,  # dies with us
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
                        help="where the running server is recorded "
                             "(default: output/.spark-server.json)")
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
            stop_owned_server(server, lease, state_file, wait,
                              lambda: stopper.signal_received is not None)
        elif lease is not None:
            lease.release()
    return 130 if interrupted else (1 if code < 0 else code)  # < 0: Lab was killed


class _NoLab:
    """Stands in for Lab after it has gone, so a signal no longer aborts."""

    def poll(self):
        return 0


if __name__ == "__main__":
    sys.exit(main())
