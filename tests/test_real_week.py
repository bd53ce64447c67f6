"""The faults of a real week (issue 18, item 6), on real runs: an input edited in
place with its size and modification time put back, an output deleted or edited
by hand, another time zone and locale, a project the user may not write to.
Each ends in one clear outcome: the right notebooks re-run, byte-identical
outputs, or one line that says what to do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import output_csvs
from suite_runner import run_suite, suite_env

from lib import staged
from lib.config import PROJECT_ROOT, make_params
from lib.suite.freshness import run_fingerprint

ONLY = "00,01,02"


def _edit_in_place_keeping_size_and_mtime(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    info = path.stat()
    content = path.read_bytes()
    assert old in content
    with path.open("r+b") as handle:  # the same file (inode), rewritten
        handle.write(content.replace(old, new))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)


def test_an_input_edited_in_place_with_size_and_mtime_put_back_is_a_new_version(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "tickets.csv").write_bytes(b"header\nORD-1|Harbour\n")
    (data / "customer.json").write_bytes(b"{}\n")
    params = make_params(data, tmp_path / "out")
    notebook = PROJECT_ROOT / "notebooks" / "01_events.ipynb"
    pin, before = staged.pin_inputs(params), run_fingerprint(notebook, params)
    _edit_in_place_keeping_size_and_mtime(data / "tickets.csv", b"Harbour", b"Harbonr")
    assert staged.changed_inputs(pin) == [params.tickets_path]
    assert staged.pin_inputs(params)["fingerprint"] != pin["fingerprint"]
    assert run_fingerprint(notebook, params) != before


def test_the_run_record_hashes_an_input_edited_in_place_again(tmp_path):
    from lib.suite.input_profile import file_fingerprint, sha256_of

    path = tmp_path / "tickets.csv"
    path.write_bytes(b"header\nORD-1|Harbour\n")
    before = file_fingerprint(path, None, staged.file_version(path))
    assert file_fingerprint(path, before, staged.file_version(path)) == before  # reused
    _edit_in_place_keeping_size_and_mtime(path, b"Harbour", b"Harbonr")
    after = file_fingerprint(path, before, staged.file_version(path))
    assert after["sha256"] == sha256_of(path) != before["sha256"]


def _statuses(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(
        r"^(\d\d_\w+)\s+(ok|FAILED|up to date)\s", output, re.M)}


@pytest.fixture(scope="module")
def week(tmp_path_factory, pinned, spark_remote):
    """A run, then reruns after each of the week's edits, on the shared server."""
    base = tmp_path_factory.mktemp("week")
    data, out = base / "data", base / "out"
    shutil.copytree(pinned["data_dir"], data)

    def run(label: str) -> dict:
        done = run_suite("--data-dir", str(data), "--output-dir", str(out), "--only", ONLY,
                         "--as-of-date", pinned["as_of_date"], "--no-report",
                         env=suite_env(spark_remote))
        assert done.returncode == 0, f"{label}:\n{done.stdout}{done.stderr}"
        return {"statuses": _statuses(done.stdout), "csvs": output_csvs(out)}

    facts = {"first": run("first")}
    facts["unchanged"] = run("unchanged")
    (out / "01_events.csv").unlink()
    facts["deleted"] = run("deleted")
    with (out / "02_tickets_by_title.csv").open("a") as handle:
        handle.write("Sir,1,1,1\n")
    facts["edited"] = run("edited")
    tickets = data / "tickets.csv"
    name = re.search(rb"\|([A-Z][a-z]+) ", tickets.read_bytes().split(b"\n", 2)[1]).group(1)
    facts["renamed"] = (name, name[:-1] + b"Q")
    _edit_in_place_keeping_size_and_mtime(tickets, b"|" + name + b" ", b"|" + name[:-1] + b"Q ")
    facts["input_edited"] = run("input edited")
    return facts


@pytest.mark.slow
def test_an_unchanged_rerun_runs_nothing(week):
    assert set(week["unchanged"]["statuses"].values()) == {"up to date"}
    assert week["unchanged"]["csvs"] == week["first"]["csvs"]


@pytest.mark.slow
def test_a_deleted_output_is_made_again_by_its_notebook_only(week):
    assert week["deleted"]["statuses"] == {"00_data_quality": "up to date", "01_events": "ok",
                                           "02_tickets_by_title": "up to date"}
    assert week["deleted"]["csvs"] == week["first"]["csvs"]


@pytest.mark.slow
def test_an_output_edited_by_hand_is_made_again(week):
    assert week["edited"]["statuses"]["02_tickets_by_title"] == "ok"
    assert week["edited"]["csvs"] == week["first"]["csvs"]


@pytest.mark.slow
def test_an_input_edited_in_place_is_not_served_stale(week):
    assert set(week["input_edited"]["statuses"].values()) == {"ok"}
    old, new = week["renamed"]
    events = week["input_edited"]["csvs"]["01_events.csv"]
    assert new in events and events != week["first"]["csvs"]["01_events.csv"]


@pytest.mark.slow
def test_another_time_zone_and_locale_give_byte_identical_outputs(tmp_path, pinned, week):
    """The runner's own server and kernels in Kiritimati (UTC+14) with a French
    JVM and process locale: 01's day and month names, dates and timestamps
    are the same bytes as the first run's."""
    env = {**suite_env(), "TZ": "Pacific/Kiritimati", "LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8",
           "JAVA_TOOL_OPTIONS": "-Duser.language=fr -Duser.country=FR "
                                "-Duser.timezone=Pacific/Kiritimati"}
    out = tmp_path / "out"
    done = run_suite("--data-dir", pinned["data_dir"], "--output-dir", str(out), "--only", ONLY,
                     "--as-of-date", pinned["as_of_date"], "--no-report", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert output_csvs(out) == week["first"]["csvs"]


def _read_only_project(command: str) -> subprocess.CompletedProcess:
    """``command`` in a mount namespace where the project is read-only (as
    for a user without write access; root would write through permissions)."""
    script = f"mount --bind {PROJECT_ROOT} {PROJECT_ROOT} && " \
             f"mount -o remount,ro,bind {PROJECT_ROOT} && {command}"
    return subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare for a read-only mount of the project")
def test_a_project_that_cannot_be_written_runs_into_another_folder(tmp_path, pinned):
    probe = _read_only_project(f"touch {PROJECT_ROOT}/.probe")
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"no read-only bind mount here: {probe.stderr.strip()[:200]}")
    python = f"{PROJECT_ROOT}/.venv/bin/python" if (PROJECT_ROOT / ".venv").is_dir() else "python3"
    run = f"cd {tmp_path} && {python} -m lib.run --keep-warm 0 --data-dir {pinned['data_dir']} --no-report " \
          f"--only 00,01 --as-of-date {pinned['as_of_date']}"
    elsewhere = _read_only_project(f"{run} --output-dir {tmp_path / 'out'}")
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    assert (tmp_path / "out" / "01_events.csv").is_file()
    inside = _read_only_project(f"{run} --output-dir {PROJECT_ROOT / 'output'}")
    assert inside.returncode == 2, inside.stdout + inside.stderr
    assert inside.stderr.strip() == (
        f"error: ParameterError: output_dir {PROJECT_ROOT / 'output'} cannot be written: no "
        "permission to write in it; choose another output folder (--output-dir, make run "
        "OUTPUT_DIR=...)")
