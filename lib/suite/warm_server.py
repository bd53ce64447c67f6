"""A Spark Connect server that outlives one run: its keeper, and ``make stop``.

``python -m lib.suite.warm_server keep --state-file F --idle-seconds N`` is the
*keeper*: a small process the suite runner starts detached (its own session,
not tied to the runner's life). It starts the shared server through
:mod:`lib.suite.shared_server`, records it in the state file with its own pid,
the server's JVM options and the idle timeout, then stops the server once no
one has held the users lock for ``idle_seconds`` in a row, or at once on
SIGTERM, SIGINT or SIGHUP. The runner side is :mod:`lib.suite.warm_lease`.

``python -m lib.suite.warm_server stop [--state-file F]`` (``make stop``) asks
the keeper to stop its server now. docs/design.md, "A server that stays warm".
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from pathlib import Path

from lib.errors import TicketInsightsError
from lib.suite.connect_server import SERVER_CLASS
from lib.suite.shared_server import (
    default_state_file,
    read_state,
    remove_state,
    start_shared_server,
    users_file,
)

KEEPER_MODULE = "lib.suite.warm_server"
LOOK_EVERY = 1.0  # s between the keeper's looks at the users lock and the server
STOP_WAIT = 30.0  # s a keeper may take to stop its server (connect_server.STOP_GRACE + SIGKILL)


def keeper_log(state_file: Path) -> Path:
    return Path(state_file).parent / "logs" / "warm-server.log"


def keeper_command(state_file: Path, idle_seconds: float, java_options) -> list[str]:
    return [sys.executable, "-m", KEEPER_MODULE, "keep", "--state-file", str(state_file),
            "--idle-seconds", f"{idle_seconds:g}",
            *(f"--java-option={option}" for option in java_options)]


# -- the keeper -------------------------------------------------------------------------

def _interrupt(signum, frame):
    raise KeyboardInterrupt


def keep(state_file: Path, idle_seconds: float, java_options: tuple[str, ...]) -> int:
    """Start the server, keep it while it is used, stop it after ``idle_seconds``
    unused. Returns the exit code: 0 when stopped as asked or when idle."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    server = None
    try:
        lease, server = start_shared_server(
            state_file, java_options, log_name="warm-connect-server.log",
            app_name="ticket-insights-warm", recorded={
                "keeper_pid": os.getpid(), "java_options": list(java_options),
                "idle_seconds": idle_seconds})
        lease.release()  # the keeper is no user: only runs and Labs hold the lock
        print(f"Keeping the server (pid {server.pid}) while it is used; it stops after "
              f"{idle_seconds:g} s unused", flush=True)
        return _keep_while_used(state_file, server, idle_seconds)
    except KeyboardInterrupt:
        print("Signalled: stopping.", flush=True)
        return 0
    except TicketInsightsError as error:  # e.g. no Java, or the server did not start
        print(f"\nerror: {error}", flush=True)  # its own line: the runner quotes the last one
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one clean-up, not cut short
        if server is not None:
            remove_state(state_file, server.pid)
            if server.running():
                print("Stopping the Spark Connect server...", end=" ", flush=True)
                server.stop()
                print("stopped.", flush=True)


def _keep_while_used(state_file: Path, server, idle_seconds: float) -> int:
    """Until the server has been unused for ``idle_seconds`` (then it is
    stopped here, holding the users lock, so nobody joins it meanwhile) or
    dies. A signal raises KeyboardInterrupt."""
    idle_since = time.monotonic()
    with open(users_file(state_file), "a") as users:
        while True:
            if not server.running():
                print(f"The server exited on its own (code {server.process.returncode}); "
                      f"its log: {server.log_path}", flush=True)
                return 1
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                idle_since = time.monotonic()  # in use
            else:
                if time.monotonic() - idle_since >= idle_seconds:
                    print(f"Unused for {idle_seconds:g} s: stopping.", flush=True)
                    remove_state(state_file, server.pid)
                    server.stop()
                    return 0  # closing the file drops the lock
                fcntl.flock(users, fcntl.LOCK_UN)  # let users in at once
            time.sleep(LOOK_EVERY)


# -- stopping it from outside (make stop) -----------------------------------------------

def _is(pid, marker: str) -> bool:
    """Process ``pid`` lives and its command line holds ``marker`` (not a reused pid)."""
    import psutil

    if not isinstance(pid, int) or pid <= 0:  # psutil.Process(None) would be this process
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and marker in " ".join(process.cmdline())
    except (psutil.Error, TypeError, ValueError):
        return False


def _wait_gone(pid: int, marker: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is(pid, marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def stop_keeper(state: dict, timeout: float = STOP_WAIT) -> str:
    """Stop the keeper recorded in ``state`` and its server; says what it did.
    SIGTERM lets the keeper stop its server in order; one that does not go in
    ``timeout`` s is killed, and so is the server's process group."""
    keeper, server = state.get("keeper_pid"), state.get("pid")
    if _is(keeper, KEEPER_MODULE):
        os.kill(keeper, signal.SIGTERM)
        if _wait_gone(keeper, KEEPER_MODULE, timeout):
            return f"stopped the warm Spark server (pid {server}) and its keeper (pid {keeper})"
        os.kill(keeper, signal.SIGKILL)
        done = f"killed its keeper (pid {keeper}), which did not stop in {timeout:.0f} s"
    else:
        done = f"its keeper (pid {keeper}) was gone"
    if _is(server, SERVER_CLASS):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server, sig)  # the server leads its own group (with its workers)
            except ProcessLookupError:
                break
            if _wait_gone(server, SERVER_CLASS, 15.0):
                break
        return f"{done}; stopped the Spark server (pid {server})"
    return f"{done}; the Spark server (pid {server}) was gone"


def stop(state_file: Path) -> int:
    state = read_state(state_file)
    if state is None:
        print(f"No warm Spark server recorded in {state_file}: nothing to stop.")
        return 0
    if not state.get("keeper_pid"):
        print(f"The Spark server recorded in {state_file} (pid {state.get('pid')}) is `make "
              "lab`'s: it stops when its last Lab does. Nothing stopped.")
        return 0
    done = stop_keeper(state)
    print(done[0].upper() + done[1:] + ".")
    if read_state(state_file) == state:  # a keeper that could not clean up after itself
        remove_state(state_file, state.get("pid"))
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {KEEPER_MODULE}",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keep_parser = commands.add_parser("keep", help="start a server and keep it while it is used")
    stop_parser = commands.add_parser("stop", help="stop the warm server now (make stop)")
    for sub in (keep_parser, stop_parser):
        sub.add_argument("--state-file", default=None,
                         help="where the server is recorded (default: output/.spark-server.json)")
    keep_parser.add_argument("--idle-seconds", type=float, required=True,
                             help="stop the server once unused for this long")
    keep_parser.add_argument("--java-option", action="append", default=[], dest="java_options",
                             metavar="OPTION", help="an option for the server's JVM (repeatable)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    state_file = Path(args.state_file).expanduser().resolve() if args.state_file \
        else default_state_file()
    if args.command == "stop":
        return stop(state_file)
    if not args.idle_seconds > 0:
        print("error: --idle-seconds must be > 0", file=sys.stderr)
        return 2
    return keep(state_file, args.idle_seconds, tuple(args.java_options))


if __name__ == "__main__":
    sys.exit(main())
