"""``--dry-run`` (``make run DRY_RUN=1``): every notebook listed with what a
run would do and why, naming what changed; no Java started, nothing written.
The output folder is laid out by hand as a run leaves it (manifests with the
batch fingerprint, executed copies, outputs), so no Spark is needed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from lib.config import PROJECT_ROOT, make_params
from lib.manifest import file_state, manifest_path, write_manifest
from lib.suite.dry_run import plan
from lib.suite.freshness import run_fingerprint
from lib.suite.processes import without_spark

NOTEBOOKS = ("00_data_quality", "10_net_sales_by_season")
AS_OF = "2024-09-10"
OUTPUT = "10_net_sales_by_season.csv"


@pytest.fixture
def layout(tmp_path):
    data, notebooks, out = tmp_path / "data", tmp_path / "notebooks", tmp_path / "out"
    data.mkdir()
    notebooks.mkdir()
    (data / "tickets.csv").write_text(
        "order_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|net_sales\n"
        "O1|1|A v B|10-Aug-2024|P|2024-08-01 09:00:00|1|10.00\n", encoding="utf-8")
    (data / "customer.json").write_text('{"CustomerIdentity": 1}\n', encoding="utf-8")
    for name in NOTEBOOKS:
        shutil.copy(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", notebooks)
    return data, notebooks, out


def _complete_run(data, notebooks, out) -> None:
    """What a successful run leaves: 10 read as_of_date and wrote OUTPUT."""
    params = make_params(data, out, AS_OF, 8)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    (out / OUTPUT).write_text("season,net_sales\n2024/25,10.00\n")
    for name in NOTEBOOKS:
        nb = notebooks / f"{name}.ipynb"
        (out / "notebooks" / nb.name).write_text("{}")
        ten = name.startswith("10")
        write_manifest(manifest_path(out, name), {
            "notebook": name, "fingerprint": run_fingerprint(nb, params),
            "parameters": {"as_of_date": AS_OF} if ten else {},
            "outputs": [{"path": OUTPUT, "kind": "csv", **file_state(out / OUTPUT)}] if ten else [],
        })


def _plan(data, notebooks, out, as_of=AS_OF, force=False) -> dict:
    params = make_params(data, out, as_of, 8)
    return dict(plan(sorted(notebooks.glob("*.ipynb")), params, out / "notebooks", force))


def test_the_dry_run_names_what_changed(layout):
    data, notebooks, out = layout
    _complete_run(data, notebooks, out)
    assert _plan(*layout) == dict.fromkeys(NOTEBOOKS)  # None: up to date
    assert _plan(*layout, force=True) == dict.fromkeys(NOTEBOOKS, "forced")
    assert _plan(*layout, as_of="2024-10-01") == {
        "00_data_quality": None,  # did not read as_of_date
        "10_net_sales_by_season": "parameter changed: as_of_date (2024-09-10 -> 2024-10-01)"}

    with (out / OUTPUT).open("a") as handle:
        handle.write("2025/26,1.00\n")
    assert _plan(*layout)["10_net_sales_by_season"] == f"output edited by hand: {OUTPUT}"
    (out / OUTPUT).unlink()
    assert _plan(*layout)["10_net_sales_by_season"] == f"output missing: {OUTPUT}"
    assert _plan(*layout, force=True)["10_net_sales_by_season"] == \
        f"forced (output missing: {OUTPUT})"

    _complete_run(data, notebooks, out)
    with (notebooks / "00_data_quality.ipynb").open("a") as handle:
        handle.write("\n")
    assert _plan(*layout) == {"00_data_quality": "notebook edited",
                              "10_net_sales_by_season": None}

    _complete_run(data, notebooks, out)
    info = (data / "tickets.csv").stat()
    os.utime(data / "tickets.csv", ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    assert _plan(*layout) == dict.fromkeys(NOTEBOOKS, "input changed: tickets.csv")


def test_the_dry_run_starts_no_java_and_writes_nothing(layout, tmp_path):
    data, notebooks, out = layout
    fake = tmp_path / "java-home"
    (fake / "bin").mkdir(parents=True)
    marker = tmp_path / "java-was-started"
    (fake / "bin" / "java").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (fake / "bin" / "java").chmod(0o755)
    env = {**without_spark(os.environ), "JAVA_HOME": str(fake),
           "PATH": f"{fake / 'bin'}:{os.environ['PATH']}"}
    shown = subprocess.run(
        [sys.executable, "-m", "lib.run", "--dry-run", "--data-dir", str(data), "--output-dir",
         str(out), "--notebooks-dir", str(notebooks), "--as-of-date", AS_OF],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["notebook", "would", "why"]
    assert [line.split(None, 2) for line in lines[2:4]] == [
        [name, "run", "no record of a complete run"] for name in NOTEBOOKS]
    assert lines[-1] == ("Dry run: 2 of 2 notebook(s) would run, 0 are up to date; "
                         "nothing was started or written.")
    assert not marker.exists()  # no Java was started, not even asked for its version
    assert not out.exists()  # nothing written, not even the output folder


def test_a_compare_to_that_is_no_record_stops_before_anything(layout):
    data, notebooks, out = layout
    done = subprocess.run(
        [sys.executable, "-m", "lib.run", "--data-dir", str(data), "--output-dir", str(out),
         "--notebooks-dir", str(notebooks), "--compare-to", "no/such/run"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("error: TicketInsightsError: --compare-to no/such/run: no readable "
                           "run record there (No such file or directory)\n")
    assert not out.exists()
