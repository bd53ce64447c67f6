"""Run records and the comparison of two runs, without Spark: a record built
from a hand-made output folder (manifests, data_quality.csv, 01, 09, 10, 11)
validates against docs/run_results.schema.json and carries the counts worked
out by hand; the comparison flags exactly what passes the thresholds; the
stale-export warning; records kept, pruned, and never fatal when the folder
cannot take them; ``python -m lib.compare``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys

import pytest

from lib.config import PROJECT_ROOT, make_params
from lib.manifest import file_state, manifest_path, write_manifest
from lib.suite.changes import compare, stale_export
from lib.suite.models import Result, Status
from lib.suite.review import DRIFT_EXIT, review_run
from lib.suite.run_record import RunFacts, keep_record, load_record, output_fingerprints

SCHEMA = json.loads((PROJECT_ROOT / "docs" / "run_results.schema.json").read_text())
STARTED = dt.datetime(2026, 12, 6, 6, 0, 0, 123456, tzinfo=dt.UTC)
OUTPUTS = {
    "data_quality.csv": "dataset,outcome,rows\ncustomers,clean,9\ncustomers,malformed_json,1\n"
                        "tickets,clean,18\ntickets,invalid_quantity,1\ntickets,malformed_row,1\n",
    "01_events.csv": "event_id,event_name,event_date,event_date_display,venue,season,order_count,"
                     "tickets_sold,net_sales\nev1,A v B,2024-08-10,Sat 10 Aug 2024,P,2024/25,2,3,30.00\n"
                     "ev2,\"C, v D\",2024-09-01,Sun 01 Sep 2024,Q,2024/25,1,1,5.00\n",
    "09_fact_transaction.csv": "order_id,customer_id,event_id,purchase_ts,quantity,net_sales\n"
                               "O1,1,ev1,2024-08-01 09:00:00,1,10.00\n"
                               "O2,2,ev2,2024-08-30 18:30:00,1,5.00\n",
    "10_net_sales_by_season.csv": "season,order_count,tickets_sold,net_sales,"
                                  "previous_season_net_sales,net_sales_change_pct\n"
                                  "2023/24,4,4,100.00,,\n2024/25,3,4,35.00,100.00,-65.00\n",
    "11_purchaser_status.csv": "customer_id,latest_event_name,latest_event_date,latest_event_season,"
                               "current_season,purchaser_status\n"
                               "1,A v B,2024-08-10,2024/25,2024/25,Current Ticket Purchaser\n"
                               "2,C v D,2024-09-01,2024/25,2024/25,Current Ticket Purchaser\n"
                               "3,X,2023-09-01,2023/24,2024/25,Previous Ticket Purchaser\n",
}
NOTEBOOK_OUTPUTS = {"00_data_quality": ["data_quality.csv"], "01_events": ["01_events.csv"],
                    "09_data_model": ["09_fact_transaction.csv"],
                    "10_net_sales_by_season": ["10_net_sales_by_season.csv"],
                    "11_purchaser_status": ["11_purchaser_status.csv"]}


@pytest.fixture
def folder(tmp_path):
    """A data folder and an output folder as a run leaves them."""
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    (data / "tickets.csv").write_text(
        "order_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|net_sales\n"
        "O1|1|A v B|10-Aug-2024|P|2024-08-01 09:00:00|1|10.00\n"
        "O2|2|C v D|2024-09-01|Q|2024-08-30 18:30:00|x|5.00\n", encoding="utf-8")
    (data / "customer.json").write_text('{"CustomerIdentity": 1, "Email": "a@b"}\n',
                                        encoding="utf-8")
    for name, text in OUTPUTS.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    for notebook, paths in NOTEBOOK_OUTPUTS.items():
        write_manifest(manifest_path(out, notebook), {"notebook": notebook, "outputs": [
            {"path": p, "kind": "csv", "rows": OUTPUTS[p].count("\n") - 1, **file_state(out / p)}
            for p in paths]})
    return make_params(data, out, "2024-09-10", 8)


def _review(params, started=STARTED, compare_to=None):
    results = [Result(name, Status.OK, 1.5) for name in NOTEBOOK_OUTPUTS]
    return review_run(params, results, RunFacts(started, "local", 2, "", False, "abc"), compare_to)


def _validate(record):
    import jsonschema

    jsonschema.validate(record, SCHEMA, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.FormatChecker())


def test_a_record_from_an_output_folder_validates_and_counts_by_hand(folder):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    review = _review(folder)
    assert review.keep(folder.output_dir, 0) is None
    record = load_record(folder.output_dir)
    _validate(record)
    assert record == load_record(folder.output_dir / "runs" / "20261206T060000.123456Z")
    assert record["run_id"] == "20261206T060000.123456Z" and record["exit_code"] == 0
    assert [nb["status"] for nb in record["notebooks"]] == ["ok"] * len(NOTEBOOK_OUTPUTS)
    assert record["records"]["tickets"] == {
        "raw": 20, "clean": 18, "rejected": 2, "reject_rate_pct": 10.0,
        "rejected_by_reason": {"invalid_quantity": 1, "malformed_row": 1}}
    assert record["records"]["customers"]["reject_rate_pct"] == 10.0
    sums = record["summaries"]
    assert sums["net_sales_by_season"] == {"2023/24": "100.00", "2024/25": "35.00"}
    assert sums["purchaser_status"] == {"Current Ticket Purchaser": 2,
                                        "Previous Ticket Purchaser": 1}
    assert sums["events"]["items"] == {"ev1": "A v B (2024-08-10)", "ev2": "C, v D (2024-09-01)"}
    assert sums["newest_order"] == "2024-08-30 18:30:00"  # the fact table's last line
    tickets = record["inputs"]["tickets"]
    assert tickets["sampled_rows"] == 2 and tickets["header"][0] == "order_id"
    assert tickets["formats"]["event_date"] == {"dd-MMM-yyyy": 50.0, "yyyy-MM-dd": 50.0}
    assert tickets["formats"]["quantity"] == {"integer": 50.0, "other": 50.0}
    assert record["inputs"]["customers"]["header"] == ["CustomerIdentity", "Email"]
    dq = next(o for nb in record["notebooks"] for o in nb["outputs"]
              if o["path"] == "data_quality.csv")
    assert dq["sha256"] == hashlib.sha256(OUTPUTS["data_quality.csv"].encode()).hexdigest()
    assert dq["rows"] == 5
    assert record["changes"] is None
    assert record["warnings"] == ["the export looks stale: its newest order is of 2024-08-30, "
                                  "11 days before as_of_date 2024-09-10 (more than 7)"]


def test_an_unchanged_output_keeps_its_hash_and_a_rerun_shows_no_changes(folder):
    first = _review(folder)
    first.keep(folder.output_dir, 0)
    second = _review(folder, STARTED + dt.timedelta(days=7))
    assert second.changes["compared_to"] == first.record["run_id"]
    assert second.changes["items"] == [] and second.lines()[0].endswith(": no changes")
    # a hash is taken from the previous record when size and time match: proved by
    # planting a wrong one, which an unchanged file keeps (no second read)
    planted = dict(first.record, notebooks=[dict(nb, outputs=[dict(o, sha256="0" * 64)
                                            for o in nb["outputs"]]) for nb in first.record["notebooks"]])
    planted["inputs"] = {k: dict(v, sha256="1" * 64) for k, v in first.record["inputs"].items()}
    keep_record(folder.output_dir, planted)
    third = _review(folder, STARTED + dt.timedelta(days=8))
    assert {o["sha256"] for nb in third.record["notebooks"] for o in nb["outputs"]} == {"0" * 64}
    assert {v["sha256"] for v in third.record["inputs"].values()} == {"1" * 64}



def test_hashes_taken_as_notebooks_finished_are_kept_unless_the_file_changed_since(folder):
    """The runner hashes a notebook's outputs as it finishes; the record keeps
    those hashes (proved by planting wrong ones) and hashes again only a file
    written after them."""
    out = folder.output_dir
    taken = {name: output_fingerprints(out, name) for name in NOTEBOOK_OUTPUTS}
    assert taken["01_events"]["01_events.csv"]["sha256"] == hashlib.sha256(
        OUTPUTS["01_events.csv"].encode()).hexdigest()
    planted = {name: {path: dict(entry, sha256="2" * 64) for path, entry in found.items()}
               for name, found in taken.items()}
    rewritten = out / "10_net_sales_by_season.csv"
    rewritten.write_text(OUTPUTS["10_net_sales_by_season.csv"] + "2025/26,1,1,1.00,35.00,-97.14\n",
                         encoding="utf-8")
    results = [Result(name, Status.OK, 1.5, fingerprints=planted[name]) for name in NOTEBOOK_OUTPUTS]
    record = review_run(folder, results, RunFacts(STARTED, "local", 2, "", False, "abc")).record
    hashes = {o["path"]: o["sha256"] for nb in record["notebooks"] for o in nb["outputs"]}
    assert hashes.pop("10_net_sales_by_season.csv") == hashlib.sha256(rewritten.read_bytes()).hexdigest()
    assert set(hashes.values()) == {"2" * 64}

def _record(rate=1.0, seasons=None, events=None, formats=None, header=None, rows=10,
            status=None):
    return {
        "run_id": "r", "started": "2026-12-06T06:00:00Z",
        "inputs": {"tickets": {"header": header or ["a", "b"],
                               "formats": {"event_date": formats or {"yyyy-MM-dd": 100.0}}}},
        "records": {"tickets": {"reject_rate_pct": rate, "rejected_by_reason": {"x": int(rate)}}},
        "notebooks": [{"outputs": [{"path": "01_events.csv", "kind": "csv", "rows": rows}]}],
        "summaries": {"net_sales_by_season": seasons or {"2023/24": "100.00"},
                      "purchaser_status": status or {"Current Ticket Purchaser": 5},
                      "events": {"items": events or {"e1": "A (2024-01-01)"}}},
    }


def _flagged(old, new):
    return sorted((i["kind"], i["key"]) for i in compare(old, new)["items"] if i["flagged"])


def test_the_thresholds_flag_strictly_beyond_their_limits():
    base = _record()
    assert compare(base, _record())["items"] == []
    assert _flagged(base, _record(rate=3.0)) == []  # +2.00 points: not more than 2
    assert _flagged(base, _record(rate=3.01)) == [("reject rate", "tickets")]
    assert _flagged(base, _record(rate=0.0)) == []  # fewer rejects is no alarm
    assert _flagged(base, _record(seasons={"2023/24": "110.00"})) == []  # exactly 10%
    assert _flagged(base, _record(seasons={"2023/24": "89.99"})) == [("net sales", "2023/24")]
    assert _flagged(base, _record(seasons={"2023/24": "100.00", "2024/25": "0.00"})) == []
    assert _flagged(base, _record(events={"e1": "A (2024-01-01)", "e2": "B (2024-02-01)"})) == []
    assert _flagged(base, _record(events={"e2": "B (2024-02-01)"})) == [
        ("event disappeared", "A (2024-01-01)")]
    assert _flagged(base, _record(formats={"yyyy-MM-dd": 99.5, "other": 0.5})) == []  # < 1%
    assert _flagged(base, _record(formats={"yyyy-MM-dd": 60.0, "dd/MM/yyyy": 40.0})) == [
        ("input format", "tickets.event_date")]
    assert _flagged(base, _record(header=["a", "c"])) == [("input header", "tickets")]
    listed = compare(base, _record(rows=12, status={"Current Ticket Purchaser": 4}))
    assert [(i["kind"], i["old"], i["new"], i["flagged"]) for i in listed["items"]] == [
        ("rows", "10", "12", False), ("purchaser status", "5", "4", False)]


def test_a_stale_export_is_a_warning():
    record = {"parameters": {"as_of_date": "2024-09-10"},
              "summaries": {"newest_order": "2024-09-03 23:59:59"}}
    assert stale_export(record) is None  # 7 days: not more than 7
    record["summaries"]["newest_order"] = "2024-09-02 10:00:00"
    assert stale_export(record) == ("the export looks stale: its newest order is of 2024-09-02, "
                                    "8 days before as_of_date 2024-09-10 (more than 7)")


def test_old_records_are_pruned_and_an_unwritable_folder_is_one_warning(folder, capsys):
    out = folder.output_dir
    for day in range(3):
        _review(folder, STARTED + dt.timedelta(days=day)).keep(out, 0, keep_runs=2)
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "20261207T060000.123456Z", "20261208T060000.123456Z"]
    # neither place can be written: runs/ is a file, run_results.json a folder
    for p in (out / "runs").iterdir():
        (p / "run_results.json").unlink()
        p.rmdir()
    (out / "runs").rmdir()
    (out / "runs").write_text("a file\n")
    (out / "run_results.json").unlink()
    (out / "run_results.json").mkdir()
    review = _review(folder, STARTED + dt.timedelta(days=9))
    warning = review.keep(out, 0)
    assert warning.startswith("warning: run record not kept (the run's results stand): ")
    assert capsys.readouterr().err.strip() == warning  # one line
    assert "\n" not in warning


def test_fail_on_drift_gives_exit_3_only_for_a_run_that_was_fine(folder):
    review = _review(folder, compare_to=_record(seasons={"2023/24": "50.00"}))
    assert review.flagged
    assert review.exit_code(0, fail_on_drift=True) == DRIFT_EXIT
    assert review.exit_code(0, fail_on_drift=False) == 0
    assert review.exit_code(1, fail_on_drift=True) == 1


def test_the_compare_command_prints_a_table(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_record()))
    new.write_text(json.dumps(_record(rate=5.0, rows=11)))
    command = [sys.executable, "-m", "lib.compare", str(old), str(new)]
    shown = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == ("Changes since run r: 3, 1 flagged: "
                        "reject rate tickets: 1.00% -> 5.00% (+4.00 points)")
    assert lines[1].split() == ["what", "of", "before", "now", "change"]
    assert lines[2].split() == ["rejects", "tickets", "x", "1", "5"]
    assert lines[3].split() == ["!", "reject", "rate", "tickets", "1.00%", "5.00%", "+4.00", "points"]
    drift = subprocess.run([*command, "--fail-on-drift"], capture_output=True, cwd=PROJECT_ROOT)
    assert drift.returncode == DRIFT_EXIT


def test_the_summary_line_names_a_few_of_each_kind_of_flagged_change():
    """A whole new export can flag thousands of vanished events: one line stays short."""
    from lib.suite.changes import summary_line

    old = _record()
    old["summaries"]["events"] = {"items": {f"EV-{n}": f"Match {n} (2024-01-0{n})" for n in range(1, 6)}}
    new = _record()
    new["summaries"]["events"] = {"items": {}}
    line = summary_line(compare(old, new))
    assert line == ("Changes since run r: 5, 5 flagged: event disappeared: Match 1 (2024-01-01), "
                    "EV-1; event disappeared: Match 2 (2024-01-02), EV-2; event disappeared: "
                    "Match 3 (2024-01-03), EV-3; 2 more of 'event disappeared' (the report and "
                    "make compare list all)")


def test_formats_and_keys_used_by_under_one_percent_are_not_the_shape(tmp_path):
    from lib.suite.input_profile import customers_profile, tickets_profile

    customers = tmp_path / "customer.json"
    customers.write_text("".join(json.dumps({"CustomerIdentity": i, **({"Rare": 1} if i == 0 else {})})
                                 + "\n" for i in range(200)) + "not json\n")
    assert customers_profile(customers) == {"header": ["CustomerIdentity"], "sampled_rows": 200,
                                            "formats": {}}
    tickets = tmp_path / "tickets.csv"
    row = "O|1|E|{}|V|2024-08-01 09:00:00|1|1.00\n"
    tickets.write_text("\ufefforder_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|"
                       "net_sales\r\n" + row.format("31/12/2024") * 199 + row.format("2024-12-31")
                       + "short|line\n")
    profile = tickets_profile(tickets)
    assert profile["header"][0] == "order_id" and profile["sampled_rows"] == 200
    assert profile["formats"]["event_date"] == {"dd/MM/yyyy": 99.5, "yyyy-MM-dd": 0.5}
    from lib.suite.input_profile import used_formats

    assert used_formats(profile["formats"]["event_date"]) == ["dd/MM/yyyy"]
