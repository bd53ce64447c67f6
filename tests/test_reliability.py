"""Crashes, reruns and concurrent runs, for real: the runner (``python -m
lib.run``) in its own process group, notebooks' kernels and the whole suite
killed with SIGTERM and SIGKILL while they write, then a rerun.

After every kill each output CSV is either byte-identical to its previous
version or to what a clean run of the same inputs writes, never partial;
no process of the killed run survives; the next run completes and leaves no
scratch. Two runs of the same inputs give byte-identical CSVs, also when they
run at the same time into different output folders.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import processes
import pytest
from suite_runner import Runner, runner_command, suite_env

from lib.config import make_params
from lib.suite.pinned import make_pinned_data

CONTRACT_HEADERS = {
    "data_quality.csv": "dataset,outcome,rows",
    "rejects/tickets_rejected.csv": "order_id,customer_id,event_name,event_date,venue,"
                                    "purchase_ts,quantity,net_sales,reject_reason",
    "rejects/customers_rejected.csv": "raw_record,reject_reason",
    "01_events.csv": "event_id,event_name,event_date,event_date_display,venue,season,"
                     "order_count,tickets_sold,net_sales",
    "02_tickets_by_title.csv": "customer_title,tickets_sold,order_count,customer_count",
    "03_customer_events.csv": "customer_id,first_name,last_name,event_count,events",
    "05_largest_order.csv": "customer_id,order_id,event_name,event_date,purchase_ts,"
                            "quantity,net_sales",
    "07_order_quantity_delta.csv": "customer_id,order_id,purchase_ts,event_name,event_date,"
                                   "quantity,previous_quantity,quantity_delta",
    "08_tickets_denormalized.csv": "order_id,purchase_ts,quantity,net_sales,event_id,event_name,"
                                   "event_date,venue,season,customer_id,customer_title,"
                                   "first_name,last_name,email,phone,postcode",
}
SCRATCH_GLOBS = ("**/.*.tmp", "**/.*.old")
AS_OF = ["--as-of-date", "2026-11-01"]


# -- processes ---------------------------------------------------------------------

def _kernel_of(runner: Runner, out: Path, notebook: str) -> int | None:
    """The kernel running ``notebook``: it writes to <out>/logs/<notebook>.log."""
    log = str(out / "logs" / f"{notebook}.log")
    for pid in processes.tree(runner.proc.pid):
        if "ipykernel" in processes.cmdline(pid) and log in processes.open_files(pid):
            return pid
    return None


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _server_port(output: str) -> int | None:
    match = re.search(r"ready in [0-9.]+ s \(127\.0\.0\.1:(\d+), pid \d+\)", output)
    return int(match.group(1)) if match else None


# -- outputs -------------------------------------------------------------------------

def _snapshot(out: Path) -> dict[str, bytes]:
    """Every output CSV (hidden scratch excluded) by its path under ``out``."""
    found = {}
    for path in [*out.glob("*.csv"), *out.glob("rejects/*.csv")]:
        if not path.name.startswith("."):
            found[path.relative_to(out).as_posix()] = path.read_bytes()
    return found


def _assert_complete(name: str, content: bytes) -> None:
    """Parses to the end with the contract's header and every row full length."""
    text = content.decode("utf-8")
    assert text.endswith("\n"), f"{name} does not end with a line end"
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert ",".join(rows[0]) == CONTRACT_HEADERS[name], name
    assert all(len(row) == len(rows[0]) for row in rows), f"{name}: a short row"


def _new_scratch(out: Path, patterns: tuple[str, ...], before: set[Path]):
    """A condition: a scratch folder matching ``patterns`` that was not there before."""
    return lambda: [p for pattern in patterns for p in out.glob(pattern) if p not in before]


def _scratch(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for pattern in SCRATCH_GLOBS
                  for p in out.glob(pattern))


def _statuses(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in
            re.finditer(r"^(\d\d_\w+)\s+(ok|FAILED|interrupted)\s", output, re.M)}


# -- the crash sequence ------------------------------------------------------------------

@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The pinned dataset (lib.pinned)."""
    return make_pinned_data(tmp_path_factory.mktemp("inputs") / "pinned")


def _write_previous_version(out: Path) -> dict[str, bytes]:
    """A complete earlier version of each output the crashed runs touch; its
    content does not matter, only that it survives whole or is replaced whole."""
    for name in ("data_quality.csv", "rejects/tickets_rejected.csv",
                 "rejects/customers_rejected.csv", "01_events.csv", "02_tickets_by_title.csv"):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = CONTRACT_HEADERS[name].count(",") + 1
        path.write_text(CONTRACT_HEADERS[name] + "\n" + ",".join(["old"] * columns) + "\n")
    return _snapshot(out)


@pytest.fixture(scope="module")
def crashes(tmp_path_factory, inputs, spark_remote):
    """Runs of 01 and 02 into a folder holding a previous version of every
    output, killed: the suite by SIGTERM while it stages the data (meanwhile
    a second run into the same folder is refused and every listening socket
    is recorded); the two notebooks' kernels by SIGKILL and SIGTERM while each
    writes its CSV; the suite's whole process group by SIGKILL while 01 or 02
    writes. Then stale scratch of every kind is planted for the rerun
    (:func:`reruns`). Records what each step left."""
    base = tmp_path_factory.mktemp("crash")
    out = base / "out"
    facts: dict = {"out": out, "old": _write_previous_version(out), "snapshots": {}}
    args = ["--data-dir", str(inputs), "--only", "01,02", "--no-report"]

    def run(label, *extra, env=None):
        return Runner(base, base / f"{label}.log", "--output-dir", str(out), *AS_OF, *args,
                      *extra, env=env or suite_env())

    # 1. the suite, SIGTERM to the runner (as `kill PID` or `docker stop` send it)
    term = run("sigterm")
    facts["building"] = term.wait_for(
        _new_scratch(out, ("_staging/.*.tmp/customers",), set()), "staging the data")
    tree = processes.tree(term.proc.pid)
    facts["listening"] = processes.listening(tree)
    facts["tree_cmdlines"] = [processes.cmdline(pid) for pid in tree]
    facts["second_run"] = subprocess.run(
        runner_command("--output-dir", str(out), *AS_OF, *args),
        cwd=base, env=suite_env(), capture_output=True, text=True, timeout=120)
    term.proc.send_signal(signal.SIGTERM)
    facts["sigterm"] = {"code": term.wait(120), "output": term.output, "tree": tree,
                        "left": processes.wait_gone(tree), "server_port": _server_port(term.output)}
    facts["sigterm"]["port_owner"] = processes.port_owner(facts["sigterm"]["server_port"])
    facts["snapshots"]["suite SIGTERM"] = _snapshot(out)

    # 2. one notebook's kernel killed mid-write, then the other's (on the warm server)
    one = run("kernels", "--jobs", "1", env=suite_env(spark_remote))
    killed = {}
    for notebook, sig in (("01_events", signal.SIGKILL), ("02_tickets_by_title", signal.SIGTERM)):
        one.wait_for(_new_scratch(out, (f".{notebook}.csv.*.tmp",), set()), f"{notebook} writing")
        kernel = one.wait_for(lambda n=notebook: _kernel_of(one, out, n), f"{notebook}'s kernel")
        os.kill(kernel, sig)
        killed[notebook] = kernel
    facts["kernels"] = {"code": one.wait(), "output": one.output, "killed": killed}
    facts["snapshots"]["kernels killed"] = _snapshot(out)

    # 3. the suite's whole process group: SIGKILL while 01 or 02 writes
    before = set(out.glob("**/.*.tmp"))
    kill = run("sigkill")
    kill.wait_for(_new_scratch(out, (".0[12]_*.csv.*.tmp",), before), "01 or 02 writing")
    tree = processes.tree(kill.proc.pid)
    os.killpg(kill.proc.pid, signal.SIGKILL)
    facts["sigkill"] = {"code": kill.wait(60), "output": kill.output, "tree": tree,
                        "left": processes.wait_gone(tree), "server_port": _server_port(kill.output)}
    facts["sigkill"]["port_owner"] = processes.port_owner(facts["sigkill"]["server_port"])
    facts["snapshots"]["suite SIGKILL"] = _snapshot(out)

    # 4. stale scratch of every kind for the rerun to clean
    for folder in (out / ".01_events.csv.0badc0de.tmp", out / "rejects" / ".x.csv.0badc0de.tmp",
                   out / "warehouse" / ".dim_event.0badc0de.tmp", out / "_staging" / ".0123.0.tmp"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00000.csv").write_text("half,a,fi")
    facts["planted"] = _scratch(out)
    return facts


RERUN_SUITE = "00,01,02,03,05,07,08"


@pytest.fixture(scope="module")
def reruns(tmp_path_factory, inputs, crashes, spark_remote):
    """At the same time, two clients of one warm Spark Connect server: the
    rerun into the crashed folder and a fresh run into a new folder."""
    base = tmp_path_factory.mktemp("rerun")
    outs = {"rerun": crashes["out"], "fresh": base / "fresh"}
    runners = {
        name: Runner(base, base / f"{name}.log", "--data-dir", str(inputs),
                     "--output-dir", str(out), *AS_OF, "--only", RERUN_SUITE, "--jobs", "2",
                     *(["--no-report"] if name == "fresh" else []), env=suite_env(spark_remote))
        for name, out in outs.items()
    }
    codes = {name: runner.wait(900) for name, runner in runners.items()}
    return {name: {"code": codes[name], "output": runner.output, "out": outs[name],
                   "csvs": _snapshot(outs[name]), "scratch": _scratch(outs[name])}
            for name, runner in runners.items()}


@pytest.mark.slow
def test_sigterm_stops_the_suite_and_everything_it_started(crashes):
    run = crashes["sigterm"]
    assert run["code"] == 130, run["output"]
    assert "Interrupted" in run["output"]
    assert not run["left"], [processes.cmdline(pid) for pid in run["left"]]  # server, kernel, JVM
    assert run["server_port"] and run["port_owner"] not in run["tree"]  # the port is free


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_is_refused(crashes):
    second = crashes["second_run"]
    assert second.returncode == 2, second.stdout + second.stderr
    assert "another run (pid" in second.stderr and "choose another --output-dir" in second.stderr


@pytest.mark.slow
def test_every_listening_socket_of_a_run_is_loopback_only(crashes):
    listening = crashes["listening"]
    port = _server_port(crashes["sigterm"]["output"])
    assert any(p == port for _, _, p in listening), (listening, crashes["tree_cmdlines"])
    assert len({pid for pid, _, _ in listening}) >= 2  # the server and a kernel
    assert all(_loopback(address) for _, address, _ in listening), listening


@pytest.mark.slow
def test_a_killed_notebook_fails_the_run_not_the_others(crashes):
    run = crashes["kernels"]
    assert run["code"] == 1, run["output"]
    assert _statuses(run["output"]) == {"01_events": "FAILED", "02_tickets_by_title": "FAILED"}
    assert run["output"].count("DeadKernelError") >= 2, run["output"]
    assert not processes.wait_gone(set(run["killed"].values()), timeout=5)


@pytest.mark.slow
def test_sigkill_of_the_process_group_leaves_no_process_behind(crashes):
    run = crashes["sigkill"]
    assert run["code"] == -signal.SIGKILL
    assert run["server_port"] is not None, run["output"]
    assert not run["left"], [processes.cmdline(pid) for pid in run["left"]]  # server, kernels
    assert run["port_owner"] not in run["tree"]  # the server's port is free


@pytest.mark.slow
def test_every_csv_is_either_the_old_or_the_new_complete_file(crashes, reruns):
    old, new = crashes["old"], reruns["fresh"]["csvs"]
    assert set(old) == {"data_quality.csv", "rejects/tickets_rejected.csv",
                        "rejects/customers_rejected.csv", "01_events.csv",
                        "02_tickets_by_title.csv"}
    assert all(old[name] != new[name] for name in old)  # the two versions differ
    for label, snapshot in crashes["snapshots"].items():
        assert set(snapshot) == set(old), label  # nothing lost, nothing half-named
        for name, content in snapshot.items():
            _assert_complete(name, content)
            assert content in (old[name], new[name]), f"after {label}: {name} is partial"


@pytest.mark.slow
def test_the_next_run_completes_and_removes_stale_scratch(crashes, reruns):
    assert len(crashes["planted"]) >= 4
    rerun = reruns["rerun"]
    assert rerun["code"] == 0, rerun["output"]
    assert rerun["scratch"] == []
    assert set(_statuses(rerun["output"]).values()) == {"ok"}
    assert (rerun["out"] / "report" / "index.html").is_file()


@pytest.mark.slow
def test_two_runs_at_once_into_two_folders_both_succeed(reruns):
    """Two clients of one warm server at the same time, each its own folder."""
    rerun, fresh = reruns["rerun"], reruns["fresh"]
    assert (rerun["code"], fresh["code"]) == (0, 0), rerun["output"] + fresh["output"]
    for run in (rerun, fresh):  # neither started a server of its own
        assert "Spark Connect endpoint from SPARK_REMOTE" in run["output"], run["output"]
    tables = [sorted(p.name for p in (r["out"] / "warehouse").iterdir()) for r in (rerun, fresh)]
    assert tables[0] == tables[1] == [".lock", "tickets_denormalized"]


@pytest.mark.slow
def test_same_inputs_give_byte_identical_csvs(reruns):
    rerun, fresh = reruns["rerun"]["csvs"], reruns["fresh"]["csvs"]
    assert set(fresh) == {"data_quality.csv", "rejects/tickets_rejected.csv",
                          "rejects/customers_rejected.csv", "01_events.csv",
                          "02_tickets_by_title.csv", "03_customer_events.csv",
                          "05_largest_order.csv", "07_order_quantity_delta.csv",
                          "08_tickets_denormalized.csv"}
    assert set(rerun) == set(fresh)
    for name, content in fresh.items():
        _assert_complete(name, content)
        assert rerun[name] == content, name


# -- the pieces, without Spark ------------------------------------------------------------

def test_a_table_caught_between_its_two_renames_is_restored(tmp_path):
    from lib.tables import list_tables, recover

    warehouse = tmp_path / "warehouse"
    (warehouse / ".dim_event.1a2b.old").mkdir(parents=True)  # killed after the first rename
    (warehouse / ".dim_event.1a2b.old" / "part-0.parquet").write_text("old table")
    (warehouse / "fact_transaction").mkdir()
    (warehouse / ".fact_transaction.3c4d.old").mkdir()  # killed while deleting the old copy
    recover(warehouse)
    assert (warehouse / "dim_event" / "part-0.parquet").read_text() == "old table"
    assert not list(warehouse.glob(".*.old"))
    assert list_tables(warehouse) == ["dim_event", "fact_transaction"]


def test_stale_scratch_is_removed_and_finished_outputs_kept(tmp_path):
    from lib.suite.cleanup import remove_stale_scratch

    params = make_params(tmp_path / "data", tmp_path / "out")
    keep = {params.output_dir / "01_events.csv": "a\n1\n",
            params.rejects_dir / "tickets_rejected.csv": "a\n",
            params.staging_dir / "0123abcd" / "_COMPLETE": "ok\n",
            params.warehouse_dir / "dim_event" / "part-0.parquet": "t"}
    stale = [params.output_dir / ".01_events.csv.1.tmp" / "part-0.csv",
             params.rejects_dir / ".tickets_rejected.csv.2.tmp" / "part-0.csv",
             params.warehouse_dir / ".dim_event.3.tmp" / "part-0.parquet",
             params.staging_dir / ".0123.4.tmp" / "customers" / "part-0.parquet"]
    for path, text in [*keep.items(), *((p, "half") for p in stale)]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    remove_stale_scratch(params)
    assert all(path.read_text() == text for path, text in keep.items())
    assert _scratch(params.output_dir) == []


def test_the_output_lock_is_released_when_its_holder_dies(tmp_path):
    from lib.errors import TicketInsightsError
    from lib.suite.cleanup import output_dir_lock

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from lib.suite.cleanup import output_dir_lock\n"
         "with output_dir_lock(Path(sys.argv[1])):\n"
         "    print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TicketInsightsError, match=f"another run \\(pid {holder.pid}\\)"), \
                output_dir_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with output_dir_lock(tmp_path):  # kill -9 released it
        pass


def test_a_file_written_through_replacing_is_old_or_new_even_when_killed(tmp_path):
    from lib.fileio import remove_scratch, replacing

    chart = tmp_path / "charts" / "01_events.png"
    chart.parent.mkdir()
    chart.write_bytes(b"old picture")
    with pytest.raises(RuntimeError), replacing(chart) as scratch:
        scratch.write_bytes(b"half a pic")
        raise RuntimeError("the figure failed")
    assert chart.read_bytes() == b"old picture" and sorted(chart.parent.iterdir()) == [chart]
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from lib.fileio import replacing\n"
         "with replacing(sys.argv[1]) as scratch:\n"
         "    scratch.write_bytes(b'half'); print('writing', flush=True); time.sleep(60)",
         str(chart)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    assert chart.read_bytes() == b"old picture"
    remove_scratch(chart.parent)  # what the next run does first
    assert sorted(chart.parent.iterdir()) == [chart]
    with replacing(chart) as scratch:
        scratch.write_bytes(b"new picture")
    assert chart.read_bytes() == b"new picture" and sorted(chart.parent.iterdir()) == [chart]
