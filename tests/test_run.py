"""The suite runner (``python -m lib.run``) run for real on the pinned data:
bad parameters stop it before Spark, a failing notebook does not stop the
others (on the tests' shared Spark Connect server), and a server the runner
starts itself is gone afterwards — also after Ctrl-C, and even when the
process that started it is killed (those three are slow: each starts a JVM)."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import processes
import pytest
from suite_runner import runner_command, suite_env

from lib.config import PROJECT_ROOT

NOTEBOOK_00 = PROJECT_ROOT / "notebooks" / "00_data_quality.ipynb"
NOTEBOOK_01 = PROJECT_ROOT / "notebooks" / "01_events.ipynb"  # a light one
FAILURE = 'raise ValueError("deliberate failure for the test")'


def _gone(pid: int, wait: float = 30.0) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaps counts as exited)."""
    return not processes.wait_gone({pid}, timeout=wait)


def _server_pid(stdout: str) -> int:
    match = re.search(r"Spark Connect server .*ready in [0-9.]+ s \(127\.0\.0\.1:\d+, pid (\d+)\)",
                      stdout)
    assert match, stdout
    return int(match.group(1))


# -- parameters ----------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--season-start-month", "13"], "season_start_month must be a whole number 1-12"),
    (["--as-of-date", "2026-02-30"], "as_of_date must be a real ISO date"),
    (["--as-of-date", "1/11/2026"], "as_of_date must be a real ISO date"),
    (["--data-dir", "/nonexistent/ticket-data"], "file not found"),
    (["--only", "99"], "--only: no notebook '99'"),
    (["--jobs", "0"], "--jobs must be a whole number >= 1"),
])
def test_bad_parameters_exit_2_before_spark_starts(tmp_path, pinned, args, message):
    data = pinned["data_dir"]
    out = tmp_path / "output"
    all_args = ["--data-dir", data, "--output-dir", str(out), *args]
    done = subprocess.run(runner_command(*all_args), cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Spark" not in done.stdout and not out.exists()


def test_output_inside_data_is_refused(tmp_path, pinned):
    data = Path(pinned["data_dir"])
    done = subprocess.run(runner_command("--data-dir", str(data), "--output-dir", str(data / "out")),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "inside data_dir" in done.stderr


# -- a real batch with one broken notebook ------------------------------------------

@pytest.fixture(scope="module")
def broken_batch(tmp_path_factory, pinned, spark_remote):
    """00, a copy of 00 with a failing cell (01_broken) and a copy of 01 (02),
    two at a time, relative paths from the caller's folder, on the tests'
    shared server (SPARK_REMOTE: no JVM to start)."""
    base = tmp_path_factory.mktemp("batch")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    nb = nbformat.read(NOTEBOOK_00, as_version=4)
    nbformat.write(nb, notebooks / "00_data_quality.ipynb")
    nbformat.write(nbformat.read(NOTEBOOK_01, as_version=4), notebooks / "02_events_again.ipynb")
    setup = next(i for i, c in enumerate(nb.cells) if "nb.setup(" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(FAILURE))
    nbformat.write(nb, notebooks / "01_broken.ipynb")
    data = Path(pinned["data_dir"])
    started = time.monotonic()
    done = subprocess.run(
        runner_command("--data-dir", str(data), "--output-dir", "out", "--notebooks-dir", "notebooks",
                "--as-of-date", "2026-11-01", "--jobs", "2"),
        cwd=base, env=suite_env(spark_remote), capture_output=True, text=True, timeout=900,
    )
    return done, base / "out", time.monotonic() - started


def test_a_failing_notebook_fails_the_run_but_not_the_others(broken_batch):
    done, out, _ = broken_batch
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()
            if re.match(r"^\d\d_\w+\s+(ok|FAILED)\s", line)}
    assert rows == {"00_data_quality": "ok", "01_broken": "FAILED", "02_events_again": "ok"}


def test_the_summary_names_the_failing_cell_and_error(broken_batch):
    done, out, _ = broken_batch
    details = done.stdout.split("01_broken FAILED:", 1)[1]
    assert FAILURE in details  # the failing cell's first line
    assert "ValueError: deliberate failure for the test" in details
    assert "executed notebook: out/notebooks/01_broken.ipynb" in details


def test_every_executed_notebook_is_kept(broken_batch, pinned):
    _, out, _ = broken_batch
    kept = sorted(p.name for p in (out / "notebooks").glob("*.ipynb"))
    assert kept == ["00_data_quality.ipynb", "01_broken.ipynb", "02_events_again.ipynb"]
    broken = nbformat.read(out / "notebooks" / "01_broken.ipynb", as_version=4)
    errors = [o for c in broken.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    params = broken.metadata.papermill.parameters
    assert params["data_dir"] == pinned["data_dir"]
    assert params["output_dir"] == str(out.resolve())  # relative to the caller, made absolute


def test_the_others_start_once_00_has_staged_the_data(broken_batch):
    _, out, _ = broken_batch

    def started(name) -> float:
        meta = nbformat.read(out / "notebooks" / f"{name}.ipynb", as_version=4).metadata.papermill
        return dt.datetime.fromisoformat(meta.start_time).timestamp()  # with its zone

    [staged] = (out / "_staging").glob("*/_COMPLETE")
    assert started("00_data_quality") < staged.stat().st_mtime
    assert all(started(n) >= staged.stat().st_mtime for n in ("01_broken", "02_events_again"))


def test_outputs_written_are_listed_per_notebook(broken_batch):
    done, out, _ = broken_batch
    row = next(ln for ln in done.stdout.splitlines() if ln.startswith("00_data_quality "))
    assert "data_quality.csv" in row and "rejects/tickets_rejected.csv" in row
    assert "charts/00_data_quality.png" in row
    assert (out / "data_quality.csv").is_file() and (out / "rejects").is_dir()


def test_the_report_is_built_with_the_failure(broken_batch):
    done, out, _ = broken_batch
    assert "Spark: Spark Connect endpoint from SPARK_REMOTE" in done.stdout
    report = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "FAILED" in report and "deliberate failure for the test" in report
    assert (out / "report" / "notebooks" / "01_broken.html").is_file()


# -- the runner's own server ---------------------------------------------------------

@pytest.mark.slow
def test_a_server_the_run_started_is_stopped_at_its_end(tmp_path, pinned):
    out = tmp_path / "out"
    done = subprocess.run(
        runner_command("--data-dir", pinned["data_dir"], "--output-dir", str(out),
                       "--as-of-date", pinned["as_of_date"], "--only", "01", "--no-report"),
        cwd=tmp_path, env=suite_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _gone(_server_pid(done.stdout), wait=5)
    assert (out / "logs" / "connect-server.log").is_file()
    assert (out / "01_events.csv").is_file()


# -- interruption --------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_stops_the_notebooks_and_the_server(tmp_path, pinned):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ticket-insights", "display_name": "ti", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell('output_dir = "output"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            import os, pathlib, time
            pathlib.Path(output_dir, "kernel.pid").write_text(str(os.getpid()))
            time.sleep(300)""")),
    ]
    nbformat.write(nb, notebooks / "00_sleepy.ipynb")
    out = tmp_path / "out"
    runner = subprocess.Popen(
        runner_command("--data-dir", pinned["data_dir"], "--output-dir", str(out),
                "--notebooks-dir", str(notebooks), "--no-report"),
        cwd=tmp_path, env=suite_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 300
        while not (out / "kernel.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
            assert runner.poll() is None, runner.stdout.read()
        assert (out / "kernel.pid").exists(), "the notebook never started"
        time.sleep(0.5)
        runner.send_signal(signal.SIGINT)
        code = runner.wait(timeout=90)
    except subprocess.TimeoutExpired:  # say what it printed and what still ran
        code, left = None, [processes.cmdline(pid)[:200] for pid in processes.tree(runner.pid)]
    finally:
        if runner.poll() is None:
            runner.kill()
        lines = runner.stdout.read()
    assert code is not None, f"the runner did not end 90 s after Ctrl-C:\n{lines}\n{left}"
    assert code == 130, lines
    assert "00_sleepy" in lines and "interrupted" in lines
    assert _gone(int((out / "kernel.pid").read_text()), wait=10), "kernel still running"
    assert _gone(_server_pid(lines), wait=10), "server still running"


@pytest.mark.slow
def test_the_server_dies_with_the_process_that_started_it(tmp_path):
    script = textwrap.dedent(f"""\
        import time
        from lib.suite.connect_server import start_server
        server = start_server({str(tmp_path / "server.log")!r})
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT,
                             env=suite_env(), stdout=subprocess.PIPE, text=True)
    try:
        pid = int(owner.stdout.readline())
        assert not _gone(pid, wait=0.5)
    finally:
        owner.kill()  # SIGKILL: no clean-up code runs in the owner
        owner.wait()
    assert _gone(pid, wait=30), "server outlived its owner"


# -- what the user sees ----------------------------------------------------------------

def test_summary_table_lists_every_notebook_then_the_failures():
    from lib.suite.models import Result, Status
    from lib.suite.progress import summary_table

    table = summary_table([
        Result("00_data_quality", Status.OK, 12.34,
               ["data_quality.csv", "charts/00_data_quality.png"]),
        Result("01_events", Status.FAILED, 3.0, [], "out/notebooks/01_events.ipynb",
               "cell 5 (In [4]): result = boom()\nNameError: name 'boom' is not defined"),
        Result("02_tickets_by_title", Status.UP_TO_DATE, 0.0, ["02_tickets_by_title.csv"]),
        Result("03_customer_events", Status.NOT_RUN, error="the Spark server died"),
    ])
    lines = table.splitlines()
    assert lines[0].split() == ["notebook", "status", "seconds", "outputs", "written"]
    assert lines[2].split() == ["00_data_quality", "ok", "12.3", "data_quality.csv,",
                                "charts/00_data_quality.png"]
    assert lines[3].split() == ["01_events", "FAILED", "3.0", "-"]
    assert lines[4] == ("02_tickets_by_title  up to date      0.0  02_tickets_by_title.csv")
    assert lines[5] == "03_customer_events   not run         0.0  -"
    assert "01_events FAILED:" in table
    assert "    NameError: name 'boom' is not defined" in lines
    assert "    executed notebook: out/notebooks/01_events.ipynb" in lines


def test_progress_bar_redraws_one_line_on_a_terminal():
    import io

    from lib.suite.models import Result, Status
    from lib.suite.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    progress = Progress(4, stream=screen)
    progress.started("01_events")
    progress.started("02_tickets_by_title")
    progress.finished(Result("01_events", Status.OK, 2.0))
    progress.close()
    text = screen.getvalue()
    assert "1/4 done | running: 02 |" in text and "[######" in text
    assert "ok     01_events (2.0 s)" in text
    assert "\r\x1b[K" in text  # the bar is redrawn in place


def test_the_two_longest_notebooks_start_first_below_256_mb_of_input():
    from lib.suite.run import LONGEST_FIRST_BELOW_BYTES, start_order

    notebooks = [nb for nb in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                 if not nb.name.startswith("00_")]
    names = [nb.stem[:2] for nb in notebooks]
    assert names == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]
    small = [nb.stem[:2] for nb in start_order(notebooks, 128 * 2**20)]
    assert small == ["09", "08", "01", "02", "03", "04", "05", "06", "07", "10", "11"]
    large = [nb.stem[:2] for nb in start_order(notebooks, LONGEST_FIRST_BELOW_BYTES)]
    assert large == names
    assert [nb.stem[:2] for nb in start_order(notebooks[:3], 0)] == ["01", "02", "03"]
