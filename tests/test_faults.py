"""Faults of the world around a run, for real (issue 13): an input rewritten
while the suite runs, the Spark server killed mid-run, a full disk, too little
memory. Each run is ``python -m lib.run`` in its own process group on the
pinned data (a few notebooks only), mostly on the tests' shared Spark Connect
server; the outputs are compared with a clean run's, byte for byte. The runs
take minutes, so they are ``slow`` (``make test-slow``); the pin of the staged
version and a heap too small to start Spark are checked quickly.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import csv_records, output_csvs
from suite_runner import Runner, suite_env

from lib.config import PROJECT_ROOT, make_params
from lib.suite.pinned import PARAMETERS

AS_OF = ["--as-of-date", PARAMETERS["as_of_date"]]
SUITE = "00,01,08,09"
NOTEBOOKS = PROJECT_ROOT / "notebooks"


# -- runs ----------------------------------------------------------------------------

def _env(remote: str | None = None, **extra: str) -> dict:
    return {**suite_env(remote), **extra}


def _start(tmp: Path, label: str, data: Path, out: Path, *args: str, env: dict) -> Runner:
    return Runner(tmp, tmp / f"{label}.log", "--data-dir", str(data), "--output-dir", str(out),
                  *AS_OF, *args, env=env)


def _run(tmp: Path, label: str, data: Path, out: Path, *args: str, env: dict,
         timeout: float = 300) -> tuple[int, str]:
    run = _start(tmp, label, data, out, *args, env=env)
    return run.wait(timeout), run.output


def _statuses(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(
        r"^(\d\d_\w+)\s+(ok|FAILED|interrupted|not run|up to date)\s", output, re.M)}


def _files(out: Path) -> dict[str, bytes]:
    """Every file a run leaves, but its logs, locks, manifests and run
    records (which a run rewrites by design: they say what *this* run did)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.parts[len(out.parts)] not in ("logs", "runs")
            and not p.name.endswith((".lock", ".manifest.json", "run_results.json"))}


def _scratch(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for pattern in ("**/.*.tmp", "**/.*.old")
                  for p in out.glob(pattern))


def _assert_complete(out: Path) -> None:
    """Every CSV parses to its end, every row as long as the header."""
    for name, content in output_csvs(out).items():
        text = content.decode("utf-8")
        assert text.endswith("\n"), name
        rows = list(csv.reader(text.splitlines()))
        assert all(len(row) == len(rows[0]) for row in rows), name


@pytest.fixture(scope="module")
def data(tmp_path_factory, pinned) -> Path:
    """A copy of the pinned data this module may change."""
    copy = tmp_path_factory.mktemp("faults") / "data"
    shutil.copytree(pinned["data_dir"], copy)
    return copy


@pytest.fixture(scope="module")
def clean(tmp_path_factory, pinned, spark_remote) -> dict[str, bytes]:
    """The CSVs of a clean run of 00, 01, 08 and 09 on the pinned data."""
    tmp = tmp_path_factory.mktemp("clean")
    code, output = _run(tmp, "clean", Path(pinned["data_dir"]), tmp / "out", "--only", SUITE,
                        "--no-report", env=_env(spark_remote))
    assert code == 0, output
    return output_csvs(tmp / "out")


# -- 1. an input rewritten during the run ---------------------------------------------

def _append_orders(tickets: Path, count: int) -> None:
    """``count`` more orders: copies of the first ones under new order ids."""
    lines = [ln for ln in tickets.read_bytes().splitlines()[1:] if ln.count(b"|") == 7]
    with tickets.open("ab") as handle:
        for number, line in enumerate(lines[:count]):
            handle.write(b"NEW-%06d|%s\n" % (number, line.split(b"|", 1)[1]))


def _has_fingerprint(manifest: Path) -> bool:
    try:
        return '"fingerprint"' in manifest.read_text(encoding="utf-8")
    except OSError:
        return False


@pytest.mark.slow
def test_an_input_rewritten_during_a_run_is_not_mixed_in(tmp_path, data, clean, spark_remote):
    """tickets.csv grows right after 00 finished: 01, 08 and 09 still read the
    version 00 staged, so the run's outputs are those of a clean run on the
    old file; the runner says the file changed, and the next run redoes all."""
    out = tmp_path / "out"
    run = _start(tmp_path, "run", data, out, "--only", SUITE, "--jobs", "3", "--no-report",
                 env=_env(spark_remote))
    run.wait_for(lambda: _has_fingerprint(out / "notebooks" / "00_data_quality.manifest.json"),
                 "00 finishing")
    _append_orders(data / "tickets.csv", 300)
    code, output = run.wait(), run.output
    assert code == 0, output
    quality = {(r["dataset"], r["outcome"]): int(r["rows"]) for r in csv_records(out / "data_quality.csv")}
    orders = sum(int(r["order_count"]) for r in csv_records(out / "01_events.csv"))
    assert orders == len(csv_records(out / "08_tickets_denormalized.csv")) \
        == len(csv_records(out / "09_fact_transaction.csv")) == quality[("tickets", "clean")]
    assert output_csvs(out) == clean  # every output from the version the run started with
    assert f"note: {data / 'tickets.csv'} changed during the run" in output
    staged = [p.name for p in (out / "_staging").iterdir() if not p.name.startswith(".")]
    assert len(staged) == 1, staged

    from lib.suite.freshness import run_fingerprint, stale_reason

    params = make_params(data, out, PARAMETERS["as_of_date"], PARAMETERS["season_start_month"])
    for number in SUITE.split(","):
        notebook = next(NOTEBOOKS.glob(f"{number}_*.ipynb"))
        executed = out / "notebooks" / notebook.name
        assert stale_reason(notebook, executed, params, run_fingerprint(notebook, params)) \
            == "input changed: tickets.csv", notebook.name  # the next run redoes it


@pytest.mark.slow
def test_an_input_rewritten_before_00_staged_it_stops_the_run(tmp_path, pinned, spark_remote):
    """tickets.csv grows after the run pinned it but before 00 cleaned it:
    00 stops with the file named, nothing else runs, exit 2."""
    data, out = tmp_path / "data", tmp_path / "out"
    shutil.copytree(pinned["data_dir"], data)
    run = _start(tmp_path, "run", data, out, "--only", "00,01", "--no-report",
                 env=_env(spark_remote))
    run.wait_for(lambda: "Ticket insights:" in run.output, "the run to pin its inputs")
    _append_orders(data / "tickets.csv", 10)
    code, output = run.wait(), run.output
    assert code == 2, output
    assert _statuses(output) == {"00_data_quality": "FAILED", "01_events": "not run"}, output
    assert (f"error: the run stopped (1 notebook(s) not run): InputChangedError: {data / 'tickets.csv'}: "
            "changed during the run") in output, output
    assert not (out / "data_quality.csv").exists()
    assert [p.name for p in out.glob("_staging/*") if p.name != ".lock"] == []  # nothing built


def test_a_batch_reads_the_staged_version_it_pinned(tmp_path, pinned):
    """Without Spark: under a run's pin, lib.staged names the pinned version
    whatever the inputs are now, fails a build of a changed input, and the
    runner's start keeps only that version; with no pin, today's behaviour."""
    from lib import staged
    from lib.errors import InputChangedError

    data = tmp_path / "data"
    shutil.copytree(pinned["data_dir"], data)
    params = make_params(data, tmp_path / "out", "2026-11-01", 8)
    pin = staged.pin_inputs(params)
    for version in ("0ld0ld", "01der", pin["fingerprint"]):
        (params.staging_dir / version).mkdir(parents=True)
        (params.staging_dir / version / "_COMPLETE").write_text("ok\n")
    staged.remove_stale_builds(params, keep=pin["fingerprint"])  # the runner's start
    assert sorted(p.name for p in params.staging_dir.iterdir()) == [".lock", pin["fingerprint"]]

    _append_orders(params.tickets_path, 5)
    assert staged.changed_inputs(pin) == [params.tickets_path]
    assert not staged.is_staged(params)  # alone: the new version is not staged
    assert staged.is_staged(params, pin)  # in the batch: the pinned one is
    assert staged.ensure_staged(None, params, pin) == params.staging_dir / pin["fingerprint"]
    shutil.rmtree(params.staging_dir / pin["fingerprint"])
    with pytest.raises(InputChangedError, match=f"{params.tickets_path}: changed during the run"):
        staged.ensure_staged(None, params, pin)  # never builds another version in a batch


# -- 2. the Spark server killed mid-run --------------------------------------------------

def _server_pid(output: str) -> int | None:
    match = re.search(r"ready in [0-9.]+ s \(127\.0\.0\.1:\d+, pid (\d+)\)", output)
    return int(match.group(1)) if match else None


@pytest.mark.slow
def test_a_killed_spark_server_fails_the_run_quickly(tmp_path, pinned, clean, spark_remote):
    """The run's own server is killed (SIGKILL to its process group) while 08
    runs (it starts before 01: lib.suite.run.start_order), one notebook at a
    time: 08 fails within seconds, 01 is not run, both with the reason; exit 1;
    nothing half-written; the next run into the folder completes with a clean
    run's bytes."""
    out = tmp_path / "out"
    run = _start(tmp_path, "run", Path(pinned["data_dir"]), out, "--only", "00,01,08",
                 "--jobs", "1", "--no-report", env=_env())
    server = run.wait_for(lambda: _server_pid(run.output), "the server")
    run.wait_for(lambda: "start  08_tickets_denormalized" in run.output, "the second wave")
    time.sleep(1.0)
    os.killpg(server, signal.SIGKILL)
    killed = time.monotonic()
    code = run.wait(timeout=120)
    took, output = time.monotonic() - killed, run.output
    assert code == 1, output
    assert took < 40, f"{took:.0f} s after the server died:\n{output}"
    statuses = _statuses(output)
    assert statuses["00_data_quality"] == "ok", output
    assert statuses["08_tickets_denormalized"] == "FAILED", output
    # 01 is "not run", or FAILED with the same reason when it took its turn in
    # the half second before the watch saw the server gone
    assert statuses["01_events"] in ("not run", "FAILED"), output
    details = output.split("08_tickets_denormalized FAILED:", 1)[1].splitlines()[1].strip()
    assert details.startswith("the Spark server stopped (killed by signal 9)"), output
    assert re.search(r"error: the run stopped( \(1 notebook\(s\) not run\))?: "
                     r"the Spark server stopped", output), output
    _assert_complete(out)
    assert _scratch(out) == []

    code, output = _run(tmp_path, "rerun", Path(pinned["data_dir"]), out, "--only", "00,01,08",
                        "--no-report", env=_env(spark_remote))
    assert code == 0, output
    assert output_csvs(out) == {name: clean[name] for name in output_csvs(out)}
    assert {"01_events.csv", "08_tickets_denormalized.csv"} <= set(output_csvs(out))


# -- 3. a full disk ------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs, mounted for the test (root only) and unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(path: Path, leave: int = 0) -> None:
    """Write ``path`` until the disk is full, then give back ``leave`` bytes."""
    with path.open("wb", buffering=0) as handle:
        for size in (1 << 20, 4096):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as error:
                assert error.errno == 28, error
        handle.truncate(max(0, handle.tell() - leave))


def _outputs(files: dict[str, bytes]) -> dict[str, bytes]:
    """The results proper: CSVs, charts, staged data (not executed notebooks)."""
    return {name: content for name, content in files.items()
            if not name.startswith("notebooks/")}


@pytest.mark.slow
def test_a_full_disk_stops_the_run_and_keeps_the_earlier_outputs(
        tmp_path, small_disk, pinned, spark_remote):
    """A complete run of 00 and 01 fits the small disk. With the rest of it
    filled, a forced rerun stops at once (the runner's own writes fail); with
    300 KiB left, 00 runs again and 01 fails when Spark writes its CSV. Each
    time: one line naming the folder and "no space left", exit 1, every
    earlier file as it was, no scratch. Once there is room again, a rerun
    completes with the same bytes."""
    data, out, filler = Path(pinned["data_dir"]), small_disk / "out", small_disk / "filler"
    args = ("--only", "00,01", "--no-report")
    code, output = _run(tmp_path, "first", data, out, *args, env=_env(spark_remote))
    assert code == 0, output
    before = _files(out)
    message = f"no space left on device in {out}"
    for label, leave in (("full", 0), ("nearly-full", 300 << 10)):
        _fill(filler, leave)
        code, output = _run(tmp_path, label, data, out, *args, "--force",
                            env=_env(spark_remote))
        assert code == 1, output
        assert "error: the run stopped" in output and message in output, output
        assert "Traceback" not in output and "java." not in output, output
        kept = _files(out)
        if not leave:  # nothing at all was written, executed notebooks included
            assert kept == before
        assert _outputs(kept) == _outputs(before), label
        assert _scratch(out) == [], label
    assert _statuses(output) == {"00_data_quality": "ok", "01_events": "FAILED"}, output

    filler.unlink()
    code, output = _run(tmp_path, "again", data, out, *args, env=_env(spark_remote))
    assert code == 0, output
    assert _outputs(_files(out)) == _outputs(before)
    assert set(output_csvs(out)) == {"data_quality.csv", "01_events.csv",
                               "rejects/tickets_rejected.csv", "rejects/customers_rejected.csv"}


# -- 4. too little memory -------------------------------------------------------------------

@pytest.mark.slow
def test_too_little_memory_to_start_spark_is_one_line(tmp_path, pinned):
    """A heap Spark cannot even start with: one line naming the setting."""
    code, output = _run(tmp_path, "run", Path(pinned["data_dir"]), tmp_path / "out",
                        "--only", "00", "--no-report", env=_env(SPARK_DRIVER_MEMORY="256m"))
    assert code == 1, output
    assert output.splitlines()[-1] == ("error: the Spark Connect server did not start: Spark ran "
                                       "out of memory: raise SPARK_DRIVER_MEMORY (now 256m)")


def _as_json_array(lines: Path) -> None:
    """Rewrite a JSON Lines customer file as one JSON array (the contract's
    other form), dropping the lines that are not JSON."""
    records = []
    for line in lines.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue
        records.append(line)
    lines.write_text("[\n" + ",\n".join(records) + "\n]\n", encoding="utf-8")


@pytest.mark.slow
def test_spark_out_of_memory_at_1m_orders_is_one_line(tmp_path):
    """1M orders and 100k customers (as one JSON array, which Spark reads as
    one record) on a 160 MiB heap: the server's JVM dies of OutOfMemoryError
    while 00 reads the customers, and the run says so in one line naming the
    setting. ``spark.testing.memory`` (a Spark conf file) lets Spark start on
    a heap below its 450 MiB minimum, so the error is real and comes fast."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(PROJECT_ROOT / "generate_data.py"), "--out", str(data),
                    "--orders", "1000000", "--customers", "100000", "--seed", "42",
                    "--reference-date", "2026-11-01"], check=True, capture_output=True)
    _as_json_array(data / "customer.json")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(f"spark.testing.memory {8 << 30}\n")
    code, output = _run(tmp_path, "run", data, tmp_path / "out", "--only", "00", "--no-report",
                        env=_env(SPARK_DRIVER_MEMORY="160m", SPARK_CONF_DIR=str(conf)),
                        timeout=600)
    assert code == 1, output
    line = "Spark ran out of memory: raise SPARK_DRIVER_MEMORY (now 160m)"
    assert re.search(r"00_data_quality FAILED:\n    (the Spark server stopped \(exit code 52\): )?"
                     + re.escape(line) + "\n", output), output
    assert "java." not in output and "Traceback" not in output, output
