"""The weekly drop for real (issue 21): two runs on hand-made data that differ
in known ways give exactly the expected flagged changes, in the run's output,
its record and its report; an unchanged rerun shows no changes; every record
validates against docs/run_results.schema.json; a ``runs`` folder that cannot
be made (a file in its place: root writes through chmod) does not fail the run.

Week 1: four events, 17 orders (one rejected: unknown customer), dates written
``dd-MMM-yyyy``. Week 2: the event "Small Cup" (one order, 5.00) is gone, the
orders of "South v Lake" are worth 150.00 instead of 100.00, two more orders
are rejected, and every date is written ``yyyy-MM-dd`` (the same days).

Worked out by hand (seasons start in August):

* season 2023/24: 505.00 -> 500.00 (-1.0%, not flagged);
  season 2024/25: 1000.00 -> 1250.00 (+25.0%, flagged);
* tickets reject rate 1/17 = 5.88% -> 3/18 = 16.67% (flagged);
* event "Small Cup (2023-09-01)" disappeared (flagged);
* tickets.event_date used formats dd-MMM-yyyy -> yyyy-MM-dd (flagged).
"""

from __future__ import annotations

import json
import shutil

import pytest
from suite_runner import run_suite, suite_env

from lib.config import PROJECT_ROOT

SCHEMA = PROJECT_ROOT / "docs" / "run_results.schema.json"
HEADER = "order_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|net_sales"
EVENTS = {  # name -> (date as dd-MMM-yyyy, as yyyy-MM-dd, venue)
    "Harbour v North": ("12-Aug-2023", "2023-08-12", "Harbour Park"),
    "Small Cup": ("01-Sep-2023", "2023-09-01", "Cup Ground"),
    "East v West": ("20-Aug-2024", "2024-08-20", "East Stadium"),
    "South v Lake": ("05-Sep-2024", "2024-09-05", "South Road"),
}
ONLY = "00,01,09,10,11"  # what the record's counts and summaries come from
ARGS = ("--as-of-date", "2024-09-10", "--season-start-month", "8", "--only", ONLY, "--jobs", "2")


def _order(number: int, customer: int, event: str, week: int, quantity: int, net: str) -> str:
    date = EVENTS[event][0 if week == 1 else 1]
    return (f"O{number:02d}|{customer}|{event}|{date}|{EVENTS[event][2]}|"
            f"2024-09-0{1 + number % 8} 10:00:00|{quantity}|{net}")


def _tickets(week: int) -> str:
    rows = [_order(n, n, "Harbour v North", week, 2, "100.00") for n in range(1, 6)]
    if week == 1:
        rows.append(_order(6, 6, "Small Cup", week, 1, "5.00"))
    rows += [_order(n, n - 6, "East v West", week, 2, "100.00") for n in range(7, 12)]
    rows += [_order(n, n - 6, "South v Lake", week, 1, "100.00" if week == 1 else "150.00")
             for n in range(12, 17)]
    rows.append(_order(17, 99, "East v West", week, 1, "10.00"))  # unknown customer
    if week == 2:
        rows += [_order(18, 98, "East v West", week, 1, "10.00"),
                 _order(19, 97, "East v West", week, 1, "10.00")]
    return "\n".join([HEADER, *rows]) + "\n"


def _write_week(data, week: int) -> None:
    data.mkdir(exist_ok=True)
    (data / "tickets.csv").write_text(_tickets(week), encoding="utf-8")
    customers = [{"CustomerIdentity": i, "Customer Title": "Mr", "First Name": f"F{i}",
                  "Last Name": f"L{i}", "Email": f"c{i}@example.com"} for i in range(1, 11)]
    (data / "customer.json").write_text("".join(json.dumps(c) + "\n" for c in customers),
                                        encoding="utf-8")


def _validate(record: dict) -> None:
    import jsonschema

    jsonschema.validate(record, json.loads(SCHEMA.read_text()),
                        cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.FormatChecker())


def _record(out) -> dict:
    record = json.loads((out / "run_results.json").read_text())
    _validate(record)
    return record


@pytest.mark.slow
def test_two_weeks_flag_exactly_the_known_changes(tmp_path, spark_remote):
    data, out = tmp_path / "data", tmp_path / "out"
    env = suite_env(spark_remote)
    _write_week(data, 1)
    first = run_suite("--data-dir", str(data), "--output-dir", str(out), *ARGS, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Changes: none to compare with (first run of this output folder)" in first.stdout
    week1 = _record(out)
    assert week1["changes"] is None and week1["exit_code"] == 0
    assert week1["summaries"]["net_sales_by_season"] == {"2023/24": "505.00", "2024/25": "1000.00"}
    assert week1["records"]["tickets"]["rejected_by_reason"] == {"unknown_customer": 1}
    assert week1["warnings"] == []  # newest order 2024-09-08, 2 days before as_of_date

    _write_week(data, 2)
    second = run_suite("--data-dir", str(data), "--output-dir", str(out), *ARGS,
                       "--fail-on-drift", env=env)
    assert second.returncode == 3, second.stdout + second.stderr  # ran fine, but drifted
    week2 = _record(out)
    assert week2["exit_code"] == 3
    assert week2["changes"]["compared_to"] == week1["run_id"]
    flagged = {(i["kind"], i["key"], i["old"], i["new"])
               for i in week2["changes"]["items"] if i["flagged"]}
    assert flagged == {
        ("input format", "tickets.event_date", "dd-MMM-yyyy", "yyyy-MM-dd"),
        ("reject rate", "tickets", "5.88%", "16.67%"),
        ("net sales", "2024/25", "1000.00", "1250.00"),
        ("event disappeared", "Small Cup (2023-09-01)",
         next(k for k, v in week1["summaries"]["events"]["items"].items()
              if v.startswith("Small Cup")), None),
    }
    others = {(i["kind"], i["key"], i["old"], i["new"])
              for i in week2["changes"]["items"] if not i["flagged"]}
    assert ("net sales", "2023/24", "505.00", "500.00") in others
    assert ("rejects", "tickets unknown_customer", "1", "3") in others
    assert ("rows", "01_events.csv", "4", "3") in others
    summary = next(line for line in second.stdout.splitlines() if line.startswith("Changes since"))
    assert summary.startswith(f"Changes since run {week1['run_id']}: ") and "4 flagged" in summary
    report = (out / "report" / "index.html").read_text()
    top = report.split('id="changes"')[0]
    assert "Look at this first" in top and "tickets.event_date" in top and "2024/25" in top

    third = run_suite("--data-dir", str(data), "--output-dir", str(out), *ARGS, env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "up to date" in third.stdout  # nothing ran, yet the run is recorded
    assert f"Changes since run {week2['run_id']}: no changes" in third.stdout
    assert _record(out)["changes"]["items"] == []
    assert "No changes since run" in (out / "report" / "index.html").read_text()
    assert len(list((out / "runs").iterdir())) == 3

    # runs/ cannot be made (a file stands there): the run succeeds, with one warning
    shutil.rmtree(out / "runs")
    (out / "runs").write_text("not a folder\n")
    fourth = run_suite("--data-dir", str(data), "--output-dir", str(out), *ARGS, env=env)
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    warnings = [line for line in fourth.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "run record not kept" in warnings[0], fourth.stderr
    assert _record(out)["run_id"] > week2["run_id"]  # the latest copy is still written
