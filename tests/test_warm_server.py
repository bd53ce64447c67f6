"""A Spark server that outlives one run (lib/suite/warm_server.py, lib/suite/warm_lease.py):
a second run reuses the first run's server, ``make stop`` stops it, and a
keeper stops its server by itself once no one uses it. Real servers, a
temporary state file; nothing is left running, whatever happens."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import output_csvs
from processes import alive, cmdline, wait_gone
from suite_runner import run_suite

from lib.config import PROJECT_ROOT
from lib.suite.connect_server import SERVER_CLASS
from lib.suite.shared_server import join_running_server, read_state, server_is_up
from lib.suite.warm_server import KEEPER_MODULE, keeper_command

START_WAIT = 300  # s for a cold server on a busy 2-core machine


def _stop_command(state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", KEEPER_MODULE, "stop", "--state-file", str(state)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def _remember(state: Path, seen: set[int]) -> dict | None:
    recorded = read_state(state)
    if recorded:
        seen.update(pid for pid in (recorded.get("pid"), recorded.get("keeper_pid")) if pid)
    return recorded


def _clean_up(state: Path, seen: set[int]) -> None:
    """``make stop``, then kill by pid whatever of ours is still there."""
    _remember(state, seen)
    _stop_command(state)
    for pid in wait_gone(seen, timeout=20):
        if SERVER_CLASS in cmdline(pid):
            os.killpg(pid, signal.SIGKILL)
        elif KEEPER_MODULE in cmdline(pid):
            os.kill(pid, signal.SIGKILL)


# -- without a server ------------------------------------------------------------------

def test_stop_without_a_warm_server_says_so_and_exits_0(tmp_path):
    state = tmp_path / "spark-server.json"
    done = _stop_command(state)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"No warm Spark server recorded in {state}: nothing to stop.\n"
    state.write_text(json.dumps({"url": "sc://localhost:1/", "pid": 1, "port": 1}))
    done = _stop_command(state)  # make lab's server: not ours to stop
    assert done.returncode == 0 and "is `make lab`'s" in done.stdout, done.stdout
    assert state.exists()


def test_a_keeper_that_cannot_start_its_server_fails_the_run_with_its_log(tmp_path, pinned):
    state = tmp_path / "state" / "spark-server.json"
    seen: set[int] = set()
    try:
        done = run_suite("--data-dir", pinned["data_dir"], "--output-dir", str(tmp_path / "out"),
                         "--only", "01", "--no-report", "--keep-warm", "20",
                         "--server-state", str(state), "--server-java-option=-Xmx64m",
                         cwd=tmp_path, timeout=300)
        _remember(state, seen)
        log = state.parent / "logs" / "warm-server.log"
        assert done.returncode == 1, done.stdout + done.stderr
        # Spark refuses -Xmx among JVM options: the server exits at once, so does its keeper
        assert re.search(r"error: the warm Spark server's keeper exited \(code 1\) before its "
                         r"server was up: error: .*Not allowed to specify max heap.* \(log: "
                         rf"{re.escape(str(log))}\)\n", done.stderr), done.stderr
        assert not state.exists()
    finally:
        _clean_up(state, seen)


# -- real servers ----------------------------------------------------------------------

@pytest.mark.slow  # two suite runs (~1 min): make test-slow, in CI
def test_a_second_run_reuses_the_warm_server_and_stop_stops_it(tmp_path, pinned, record_property):
    state = tmp_path / "state" / "spark-server.json"
    args = ["--data-dir", pinned["data_dir"], "--as-of-date", pinned["as_of_date"],
            "--season-start-month", str(pinned["season_start_month"]), "--only", "00,01",
            "--no-report", "--keep-warm", "20", "--server-state", str(state)]
    seen: set[int] = set()
    try:
        runs, seconds = [], []
        for name in ("first", "second"):
            began = time.monotonic()
            runs.append(run_suite(*args, "--output-dir", str(tmp_path / name), cwd=tmp_path))
            seconds.append(time.monotonic() - began)
            recorded = _remember(state, seen)
            assert runs[-1].returncode == 0, runs[-1].stdout + runs[-1].stderr
        first, second = (run.stdout for run in runs)
        print(f"\nfirst run (starts the warm server) {seconds[0]:.1f} s; "
              f"second run (reuses it) {seconds[1]:.1f} s")
        record_property("first_run_seconds", round(seconds[0], 1))
        record_property("second_run_seconds", round(seconds[1], 1))

        # the first run started a keeper and its server; both outlived the run
        server, keeper = recorded["pid"], recorded["keeper_pid"]
        where = f"127.0.0.1:{recorded['port']}, pid {server}"
        assert f"Spark: a warm Spark Connect server, started now ({where})" in first, first
        assert state.stat().st_mode & 0o777 == 0o600
        assert server_is_up(recorded) and KEEPER_MODULE in cmdline(keeper)
        assert recorded["idle_seconds"] == 20 and isinstance(recorded["java_options"], list)
        # the second run leased that server: nothing started, same outputs
        assert f"Spark: a warm Spark Connect server, reused ({where})" in second, second
        assert "Starting" not in second, second
        for out in (first, second):
            assert (f"The Spark server stays warm for 20 s after its last use (pid {server}); "
                    "`make stop` stops it now.") in out
        csvs = output_csvs(tmp_path / "first")
        assert len(csvs) >= 3 and csvs == output_csvs(tmp_path / "second")

        stopped = _stop_command(state)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == (f"Stopped the warm Spark server (pid {server}) and its keeper "
                                  f"(pid {keeper}).\n")
        assert wait_gone({server, keeper}, timeout=30) == set()
        assert not state.exists()
        assert "Signalled: stopping." in (state.parent / "logs" / "warm-server.log").read_text()
    finally:
        _clean_up(state, seen)


@pytest.mark.slow
def test_a_keeper_stops_its_server_once_no_one_has_used_it_for_its_idle_time(tmp_path):
    state = tmp_path / "state" / "spark-server.json"
    state.parent.mkdir()
    log = (tmp_path / "keeper.log").open("w")
    keeper = subprocess.Popen(keeper_command(state, 2, ()), cwd=PROJECT_ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    seen = {keeper.pid}
    try:
        deadline = time.monotonic() + START_WAIT
        while not server_is_up(_remember(state, seen)):
            assert keeper.poll() is None, (tmp_path / "keeper.log").read_text()
            assert time.monotonic() < deadline, "the keeper's server did not come up"
            time.sleep(0.2)
        server = read_state(state)["pid"]
        lease = join_running_server(state)  # in use: it stays up past its idle time
        assert lease is not None and lease.keeper_pid == keeper.pid
        time.sleep(4)
        assert alive({server, keeper.pid}) == {server, keeper.pid}
        lease.release()
        assert keeper.wait(timeout=40) == 0, (tmp_path / "keeper.log").read_text()
        assert wait_gone({server}, timeout=10) == set()
        assert not state.exists()
        assert "Unused for 2 s: stopping." in (tmp_path / "keeper.log").read_text()
    finally:
        if keeper.poll() is None:
            keeper.kill()
            keeper.wait()
        _clean_up(state, seen)
