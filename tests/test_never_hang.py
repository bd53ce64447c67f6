"""Never hang (issue 18): the Spark Connect server's start has a deadline that
really ends it, a port another process holds is never taken for the server's,
a server that dies before it listens is one line, a signal during start-up
ends the run with nothing left running, and a notebook past its time limit
fails with its cell named while the others go on."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from processes import alive, cmdline, tree, wait_gone
from suite_runner import Runner, run_suite, suite_env

from lib.suite import connect_server, kernels
from lib.suite.connect_server import ConnectServer, ConnectServerError, start_server

SILENT_LISTENER = """import socket, sys, time
sock = socket.socket()
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen()
print("listening", flush=True)
time.sleep(600)
"""


def _silent_listener(port: int) -> subprocess.Popen:
    """A process that accepts connections on ``port`` and never answers (as a
    kernel's ZMQ socket does to a gRPC client)."""
    process = subprocess.Popen([sys.executable, "-c", SILENT_LISTENER, str(port)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "listening"
    return process


def _in_thread(call, limit: float):
    """``call()`` in a thread; fails the test if it has not returned in ``limit`` s."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    began = time.monotonic()
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit} s: it hangs"
    return outcome, time.monotonic() - began


def _stand_in(process: subprocess.Popen, port: int, tmp_path: Path) -> ConnectServer:
    log = tmp_path / "server.log"
    log.write_text("")
    return ConnectServer(process=process, port=port, token="t", log_path=log)


def test_a_listener_that_never_answers_ends_at_the_deadline(tmp_path):
    """The port answers and belongs to the server's process, but no gRPC
    comes back: the start fails at its deadline instead of waiting for ever."""
    port = connect_server.free_port()
    listener = _silent_listener(port)
    try:
        server = _stand_in(listener, port, tmp_path)
        outcome, seconds = _in_thread(
            lambda: connect_server.wait_until_ready(server, time.monotonic() + 3), limit=60)
    finally:
        listener.kill()
        listener.wait()
    assert isinstance(outcome.get("error"), ConnectServerError), outcome
    assert "did not answer a query" in str(outcome["error"]) and seconds < 30


def test_a_port_held_by_another_process_is_not_the_servers(tmp_path):
    """The server's process does not listen; someone else does on its port."""
    port = connect_server.free_port()
    listener = _silent_listener(port)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        server = _stand_in(stand_in, port, tmp_path)
        outcome, _ = _in_thread(
            lambda: connect_server.wait_until_ready(server, time.monotonic() + 2), limit=60)
    finally:
        for process in (listener, stand_in):
            process.kill()
            process.wait()
    assert "did not listen" in str(outcome.get("error")), outcome


@pytest.mark.slow
def test_a_port_taken_before_the_server_binds_it_is_retried(tmp_path, monkeypatch):
    """The run that hung: its chosen port was bound by another process first.
    The server cannot bind it and exits; the start tries another port."""
    taken = connect_server.free_port()
    listener = _silent_listener(taken)
    ports = iter([taken])
    real_free_port = connect_server.free_port
    monkeypatch.setattr(connect_server, "free_port", lambda: next(ports, None) or real_free_port())
    try:
        outcome, _ = _in_thread(lambda: start_server(tmp_path / "server.log", timeout=240), 300)
    finally:
        listener.kill()
        listener.wait()
    server = outcome.get("value")
    assert server is not None, outcome
    try:
        assert server.port != taken and server.running()
        assert connect_server.listens(server.pid, server.port)
    finally:
        server.stop()


def test_a_server_killed_before_it_listens_is_one_line(tmp_path):
    app = f"ticket-insights-killed-{os.getpid()}"
    killed: list[int] = []

    def kill_the_jvm():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for process in psutil.process_iter(["pid", "cmdline"]):
                if app in " ".join(process.info["cmdline"] or []):
                    process.kill()
                    killed.append(process.info["pid"])
            time.sleep(0.02)

    threading.Thread(target=kill_the_jvm, daemon=True).start()
    outcome, _ = _in_thread(lambda: start_server(tmp_path / "server.log", app_name=app), 180)
    error = outcome.get("error")
    assert killed and isinstance(error, ConnectServerError), outcome
    assert "exited (code -9) before it answered" in str(error) and "\n" not in str(error)
    assert str(tmp_path / "server.log") in str(error)
    assert not alive(set(killed))


# -- the runner ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_server_starts_ends_the_run(tmp_path, pinned, sig):
    """Exit 130 within seconds, no kernel or JVM left, nothing half-written."""
    run = Runner(tmp_path, tmp_path / "run.log", "--data-dir", pinned["data_dir"],
                 "--output-dir", str(tmp_path / "out"), "--no-report", env=suite_env())
    run.wait_for(lambda: "Starting a local Spark Connect server" in run.output,
                 "the server's start", timeout=120)
    time.sleep(1.0)  # the JVM and the kernels are starting now
    started = tree(run.proc.pid)
    os.kill(run.proc.pid, sig)
    code = run.wait(90)
    assert code == 130, run.output
    left = wait_gone(started, timeout=20)
    assert not left, [cmdline(pid) for pid in left]
    assert not list((tmp_path / "out").glob("*.csv"))


# -- a notebook past its time limit ------------------------------------------------------

STUCK_CELL = "time.sleep(3600)  # never finishes"
DEAF_CELL = """while True:  # Ctrl-C does nothing, as in a call stuck in the JVM
    try:
        time.sleep(3600)
    except KeyboardInterrupt:
        pass"""


@pytest.mark.slow
def test_a_notebook_past_its_time_limit_fails_and_the_others_go_on(tmp_path, pinned):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    source = nbformat.read(Path("notebooks/02_tickets_by_title.ipynb"), as_version=4)
    nbformat.write(source, notebooks / "02_tickets_by_title.ipynb")
    stuck = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("output_dir = 'output'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time"),
        nbformat.v4.new_code_cell(STUCK_CELL),
    ])
    stuck.metadata["kernelspec"] = source.metadata["kernelspec"]
    nbformat.write(stuck, notebooks / "01_stuck.ipynb")
    stuck.cells[2] = nbformat.v4.new_code_cell(DEAF_CELL)
    nbformat.write(stuck, notebooks / "03_deaf.ipynb")
    done = run_suite("--data-dir", pinned["data_dir"], "--output-dir", str(tmp_path / "out"),
                     "--notebooks-dir", str(notebooks), "--as-of-date", pinned["as_of_date"],
                     "--timeout", "120", "--no-report", "--jobs", "3", timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    details = done.stdout.split("01_stuck FAILED:", 1)[1]
    assert "timed out after 120 s" in details and "time.sleep(3600)" in details, done.stdout
    deaf = done.stdout.split("03_deaf FAILED:", 1)[1]
    assert "timed out after 120 s" in deaf and "its kernel was killed 15 s later" in deaf, deaf
    assert "02_tickets_by_title ok" in " ".join(done.stdout.split()), done.stdout
    assert (tmp_path / "out" / "02_tickets_by_title.csv").is_file()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_a_bad_timeout_is_a_parameter_error(tmp_path, pinned, value):
    done = run_suite("--data-dir", pinned["data_dir"], "--output-dir", str(tmp_path / "out"),
                     "--timeout", value, timeout=120)
    assert done.returncode == 2 and "--timeout must be a number of seconds > 0" in done.stderr


def test_a_lock_wait_with_a_timeout_ends_with_the_holder_named(tmp_path):
    from lib.fileio import LockBusy, file_lock

    lock = tmp_path / "start.lock"
    with file_lock(lock):
        began = time.monotonic()
        with pytest.raises(LockBusy) as busy:
            with file_lock(lock, timeout=0.5):
                pass
        assert 0.5 <= time.monotonic() - began < 10
        assert busy.value.owner == str(os.getpid())
    with file_lock(lock, timeout=0.5):  # free again: taken at once
        pass


def test_ctrl_c_waits_only_for_the_notebooks_that_started():
    """On Ctrl-C the runner cancels the queued notebooks and waits for the
    running ones. A future cancelled by the pool's shutdown never counts as
    done for ``cf.wait``, so waiting on every future sat out the whole
    30 s timeout after the last notebook had stopped."""
    began, release = threading.Event(), threading.Event()

    def running_notebook():
        began.set()
        release.wait()

    pool = cf.ThreadPoolExecutor(max_workers=1)
    futures = [pool.submit(running_notebook), pool.submit(int), pool.submit(int)]
    began.wait()
    pool.shutdown(wait=False, cancel_futures=True)
    assert kernels.started_only(futures) == futures[:1]
    assert cf.wait(futures, timeout=0.1).not_done == set(futures)  # the trap
    release.set()
    assert not cf.wait(kernels.started_only(futures), timeout=60).not_done
