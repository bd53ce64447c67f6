"""Which shared server a suite run uses, warm or not (the runner's side of
:mod:`lib.suite.warm_server`).

A run leases the recorded server when it is ``make lab``'s (no keeper) or a
warm one started with the JVM options this run wants. Otherwise, when it may
keep a server warm (``--keep-warm`` > 0), it starts a keeper, detached, and
leases the keeper's server once it is up; a warm server with other options is
first stopped if no one uses it. One start lock (the one ``make lab`` takes)
means two runs never start two keepers. docs/design.md, "A server that stays warm".
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.config import PROJECT_ROOT
from lib.fileio import LockBusy, file_lock
from lib.suite.connect_server import HOST, START_TIMEOUT, ConnectServerError
from lib.suite.shared_server import (
    LOCK_TIMEOUT,
    Lease,
    join_running_server,
    read_state,
    server_is_up,
    start_lock,
    users_file,
)
from lib.suite.warm_server import keeper_command, keeper_log, stop_keeper

KEEPER_START_MARGIN = 30.0  # s beyond the server's own start timeout: the keeper's start, the UI
LOOK_EVERY = 0.2  # s between looks at a starting keeper


@dataclass
class ChosenServer:
    lease: Lease
    description: str  # for the run's "Spark:" line
    warm: bool  # a keeper's server: it stays up after the run


def duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def stays_warm_note(chosen: ChosenServer) -> str:
    return (f"The Spark server stays warm for {duration(chosen.lease.idle_seconds or 0)} after "
            f"its last use (pid {chosen.lease.pid}); `make stop` stops it now.")


def _reusable(lease: Lease | None, java_options: list[str], warm_too: bool) -> ChosenServer | None:
    """The leased server if this run may use it (else the lease is released)."""
    if lease is None:
        return None
    where = f"{HOST}:{lease.port}, pid {lease.pid}"
    if lease.keeper_pid is None:
        return ChosenServer(lease, f"the running `make lab` Spark Connect server ({where}), "
                                   "shared with JupyterLab", warm=False)
    if warm_too and lease.java_options == java_options:
        return ChosenServer(lease, f"a warm Spark Connect server, reused ({where})", warm=True)
    lease.release()
    return None


def lease_shared_server(state_file: Path, keep_warm: float,
                        java_options: tuple[str, ...]) -> ChosenServer | None:
    """The server this run leases, or None: the run starts a private one.

    ``keep_warm`` 0: only a running ``make lab``'s server is joined, as before
    warm servers existed (a warm one is neither used nor started)."""
    wanted = list(java_options)
    if keep_warm <= 0:
        return _reusable(join_running_server(state_file), wanted, warm_too=False)
    try:
        with file_lock(start_lock(state_file), timeout=LOCK_TIMEOUT):  # one keeper at a time
            chosen = _reusable(join_running_server(state_file), wanted, warm_too=True)
            if chosen is None and _other_warm_server_stopped(state_file):
                lease = _start_keeper(state_file, keep_warm, java_options)
                chosen = ChosenServer(lease, f"a warm Spark Connect server, started now "
                                             f"({HOST}:{lease.port}, pid {lease.pid})", warm=True)
            return chosen
    except LockBusy as busy:
        print(f"note: another launcher (pid {busy.owner or '?'}) has been starting the shared "
              f"Spark server for {LOCK_TIMEOUT:.0f} s: this run starts a private one",
              file=sys.stderr)
    except OSError as error:  # e.g. the state file's folder cannot be written
        print(f"note: no warm Spark server ({error}): this run starts a private one",
              file=sys.stderr)
    return None


def _in_use(state_file: Path) -> bool:
    with open(users_file(state_file), "a") as users:
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(users, fcntl.LOCK_UN)
        return False


def _other_warm_server_stopped(state_file: Path) -> bool:
    """False when a warm server with other JVM options is up and in use (the
    run then starts a private one); one that no one uses is stopped."""
    state = read_state(state_file)
    if not (state and state.get("keeper_pid") and server_is_up(state)):
        return True
    if _in_use(state_file):
        print(f"note: the warm Spark server (pid {state['pid']}) has other JVM options and is "
              "in use: this run starts a private one", file=sys.stderr)
        return False
    print(f"The warm Spark server (pid {state['pid']}) has other JVM options: "
          f"{stop_keeper(state)}.", flush=True)
    return True


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return (lines or ["(the log is empty)"])[-1][:300]


def _start_keeper(state_file: Path, idle_seconds: float, java_options: tuple[str, ...]) -> Lease:
    """Start a keeper, detached, and lease its server once the state file
    names it up (bounded: the server's start timeout plus a margin)."""
    log = keeper_log(state_file)
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"Starting a warm Spark Connect server (log: {log})...", end=" ", flush=True)
    began = time.monotonic()
    with log.open("w") as out:
        keeper = subprocess.Popen(  # no DIE_WITH_PARENT: it outlives this run, by design
            keeper_command(state_file, idle_seconds, java_options), cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)  # Ctrl-C of this run does not reach it
    try:
        deadline = began + START_TIMEOUT + KEEPER_START_MARGIN
        while True:
            state = read_state(state_file)
            if state and state.get("keeper_pid") == keeper.pid and server_is_up(state):
                lease = join_running_server(state_file)
                if lease is not None and lease.keeper_pid == keeper.pid:
                    print(f"ready in {time.monotonic() - began:.1f} s ({HOST}:{lease.port}, "
                          f"pid {lease.pid})", flush=True)
                    return lease
                if lease is not None:
                    lease.release()
            if keeper.poll() is not None:
                raise ConnectServerError(
                    f"the warm Spark server's keeper exited (code {keeper.returncode}) before "
                    f"its server was up: {_last_line(log)} (log: {log})")
            if time.monotonic() > deadline:
                raise ConnectServerError(
                    f"the warm Spark server was not up in {deadline - began:.0f} s: "
                    f"{_last_line(log)} (log: {log})")
            time.sleep(LOOK_EVERY)
    except BaseException:
        if keeper.poll() is None:
            keeper.terminate()  # it stops the server it may have started
        raise
