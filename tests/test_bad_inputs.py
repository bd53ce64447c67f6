"""Bad input files, end to end through the runner (``python -m lib.run``).

A file-level problem stops the run before any Spark starts: exit code 2, one
line ``error: InputError: <file>, line N: <what is wrong>; <what to do>`` on
stderr, no stack trace, nothing written; so does an output folder that cannot
be created (``error: ParameterError: ...``). A standalone notebook (papermill)
stops with the same named error, not a Java trace. Record-level problems are
handled: BOM, CRLF, blank lines, a 10 MB line, a truncated JSON Lines record,
a JSON array, a line holding bytes that are not UTF-8; every record ends up
clean or in a rejects file, and raw = clean + rejected.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import csv_records
from suite_runner import runner_command

from lib.config import PROJECT_ROOT
from lib.schema import TICKET_COLUMNS

HEADER = "|".join(TICKET_COLUMNS)
GOOD_ROWS = [
    "ORD-1|1|Harbour City v Northgate|12-Aug-2023|Harbour Park|2023-08-01 10:00:00|2|20.00",
    "ORD-2|2|Harbour City v Northgate|Aug-12-2023|Harbour Park|2023-08-02 11:00:00|1|10.00",
    "ORD-3|1|Westbury v Kingsmead|2023-09-30|Westbury Meadow|2023-09-01 12:00:00|4|80.00",
]
CUSTOMERS = [
    {"CustomerIdentity": 1, "Customer Title": "Mrs", "First Name": "Zoë", "Last Name": "Doe",
     "Email": "zoe@example.com", "contact_details": {"phone": "07700 900123", "postcode": "SW1A 1AA"}},
    {"CustomerIdentity": 2, "Customer Title": " dr. ", "First Name": "Ann", "Last Name": "Lee",
     "Email": "ann@example.com", "contact_details": {"phone": "07700 900124", "postcode": "B1 1AA"}},
]
GOOD_TICKETS = (HEADER + "\n" + "\n".join(GOOD_ROWS) + "\n").encode()
GOOD_CUSTOMERS = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CUSTOMERS).encode()
TEN_MB = 10 * 1024 * 1024
JAVA_TRACE_MARKS = ("Traceback", "at org.apache", "Py4JJavaError", "Exception in thread", "java.lang.")


def _write_inputs(folder: Path, tickets: bytes | None, customers: bytes | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (("tickets.csv", tickets), ("customer.json", customers)):
        if content is not None:
            (folder / name).write_bytes(content)
    return folder


# -- file-level problems: a named error before Spark, nothing written ------------------

BAD_FILES = {
    # id: (tickets, customers, the file named, what the message says)
    "tickets missing": (None, GOOD_CUSTOMERS, "tickets.csv",
                        ["file not found", "generate_data.py"]),
    "customers missing": (GOOD_TICKETS, None, "customer.json",
                          ["file not found", "generate_data.py"]),
    "tickets empty": (b"", GOOD_CUSTOMERS, "tickets.csv",
                      ["the file is empty", "expected a '|'-delimited header line"]),
    "customers empty": (GOOD_TICKETS, b"", "customer.json",
                        ["the file is empty", "one JSON customer object per line"]),
    "header only": ((HEADER + "\n").encode(), GOOD_CUSTOMERS, "tickets.csv",
                    ["has a header but no order rows"]),
    "header and blank lines only": ((HEADER + "\r\n\r\n  \n").encode(), GOOD_CUSTOMERS,
                                    "tickets.csv", ["has a header but no order rows"]),
    "comma instead of pipe": (GOOD_TICKETS.replace(b"|", b","), GOOD_CUSTOMERS, "tickets.csv",
                              ["line 1: the header is comma-separated", "must use '|'"]),
    "missing column": (GOOD_TICKETS.replace(b"|venue", b"", 1), GOOD_CUSTOMERS, "tickets.csv",
                       ["line 1: header does not match", "missing: ['venue']",
                        "fix the header line"]),
    "extra column": (GOOD_TICKETS.replace(b"net_sales", b"net_sales|channel", 1), GOOD_CUSTOMERS,
                     "tickets.csv", ["line 1: header does not match", "unexpected: ['channel']"]),
    "renamed column": (GOOD_TICKETS.replace(b"quantity", b"qty", 1), GOOD_CUSTOMERS, "tickets.csv",
                       ["missing: ['quantity']; unexpected: ['qty']"]),
    "tickets header not UTF-8": (GOOD_TICKETS.replace(b"event_name", b"event\x96name", 1),
                                 GOOD_CUSTOMERS, "tickets.csv",
                                 ["line 1: byte 0x96 is not UTF-8", "re-save the file as UTF-8"]),
    "tickets UTF-16": ("\ufeff".encode("utf-16-le") + GOOD_TICKETS.decode().encode("utf-16-le"),
                       GOOD_CUSTOMERS, "tickets.csv", ["is UTF-16", "re-save it as UTF-8"]),
    "customers UTF-16": (GOOD_TICKETS, "\ufeff".encode("utf-16-be") + GOOD_CUSTOMERS.decode()
                         .encode("utf-16-be"), "customer.json", ["is UTF-16", "re-save it as UTF-8"]),
    "customers not JSON": (GOOD_TICKETS, b"CustomerIdentity,Title\n1,Mr\n", "customer.json",
                           ["line 1: not JSON", "starting with '{' or '['"]),
    "customers blank": (GOOD_TICKETS, b"\n \r\n\n", "customer.json", ["line 1: not JSON"]),
    "truncated JSON array": (GOOD_TICKETS, b'[{"CustomerIdentity": 1},\n{"CustomerIdentity": 2',
                             "customer.json", ["not a valid JSON array", "truncated"]),
    "broken JSON array": (GOOD_TICKETS, b'[{"CustomerIdentity": 1},\n{"CustomerIdentity" 2}]',
                          "customer.json", ["line 2, column 21", "not a valid JSON array"]),
    "10 MB header line": ((HEADER + "|" + "x" * TEN_MB + "\n" + GOOD_ROWS[0] + "\n").encode(),
                          GOOD_CUSTOMERS, "tickets.csv", ["line 1: header does not match",
                                                          "(10,485,760 characters)"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_stops_before_spark_with_one_clear_line(tmp_path, case):
    tickets, customers, named, phrases = BAD_FILES[case]
    data = _write_inputs(tmp_path / "data", tickets, customers)
    out = tmp_path / "output"
    done = subprocess.run(runner_command("--data-dir", str(data), "--output-dir", str(out)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and len(lines[0]) < 1000, done.stderr[:2000]
    assert lines[0].startswith(f"error: InputError: {data / named}"), lines[0]
    for phrase in phrases:
        assert phrase in lines[0]
    assert not any(mark in done.stderr for mark in JAVA_TRACE_MARKS)
    assert done.stdout == ""  # no Spark, no progress
    assert not out.exists()  # no partial outputs


@pytest.mark.parametrize("kind", ["folder", "fifo"])
@pytest.mark.parametrize("name", ["tickets.csv", "customer.json"])
def test_a_folder_or_a_fifo_where_an_input_should_be_is_one_line(tmp_path, kind, name):
    """Never opened (a FIFO with no writer would block the run for ever)."""
    data = _write_inputs(tmp_path / "data", GOOD_TICKETS, GOOD_CUSTOMERS)
    (data / name).unlink()
    (data / name).mkdir() if kind == "folder" else os.mkfifo(data / name)
    done = subprocess.run(runner_command("--data-dir", str(data), "--output-dir",
                                         str(tmp_path / "out")),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    expected = "is a folder, not a file" if kind == "folder" else "is not a regular file"
    assert done.stderr.strip() == done.stderr.strip().splitlines()[0]
    assert done.stderr.startswith(f"error: InputError: {data / name}: {expected}"), done.stderr


@pytest.mark.parametrize("where", ["under a file", "is a file"])
def test_output_folder_that_cannot_be_created_is_a_parameter_error(tmp_path, where):
    data = _write_inputs(tmp_path / "data", GOOD_TICKETS, GOOD_CUSTOMERS)
    blocker = tmp_path / "results.txt"
    blocker.write_text("a file, not a folder\n")
    out = blocker / "run1" if where == "under a file" else blocker
    done = subprocess.run(runner_command("--data-dir", str(data), "--output-dir", str(out)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr[:2000]
    assert lines[0].startswith(f"error: ParameterError: output_dir {out} "), lines[0]
    assert f"{blocker} is a file, not a folder" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert blocker.read_text() == "a file, not a folder\n"


def test_inputs_are_never_modified(tmp_path):
    tickets, customers = BAD_FILES["renamed column"][:2]
    data = _write_inputs(tmp_path / "data", tickets, customers)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in data.iterdir()}
    subprocess.run(runner_command("--data-dir", str(data), "--output-dir", str(tmp_path / "o")),
                   cwd=tmp_path, capture_output=True, timeout=120)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in data.iterdir()} == before


def test_an_unreadable_file_is_a_named_error_too(tmp_path, monkeypatch):
    from lib.errors import InputError
    from lib.input_checks import check_input_files

    data = _write_inputs(tmp_path / "data", GOOD_TICKETS, GOOD_CUSTOMERS)

    def no_permission(*args, **kwargs):  # what a root-run test cannot get from chmod
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", no_permission)
    with pytest.raises(InputError, match=r"customer.json: cannot read the file \(Permission denied\)"):
        check_input_files(data / "tickets.csv", data / "customer.json")


@pytest.mark.slow
def test_a_standalone_notebook_stops_with_the_named_error(tmp_path, spark_remote):
    """papermill on one notebook (docs/contract.md §4): the InputError is what the
    user reads, not a Java stack trace, and nothing is written."""
    tickets, customers = BAD_FILES["renamed column"][:2]
    data = _write_inputs(tmp_path / "data", tickets, customers)
    out, executed = tmp_path / "output", tmp_path / "executed.ipynb"
    env = {**os.environ, "SPARK_REMOTE": spark_remote}
    env = {k: v for k, v in env.items() if not k.startswith("TICKET_INSIGHTS_")}
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(PROJECT_ROOT / "notebooks" / "01_events.ipynb"),
         str(executed), "-k", "ticket-insights", "--no-progress-bar",
         "-p", "data_dir", str(data), "-p", "output_dir", str(out),
         "-p", "as_of_date", "2026-11-01", "-p", "season_start_month", "8"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0
    expected = f"InputError: {data / 'tickets.csv'}, line 1: header does not match"
    assert expected in done.stderr
    assert not any(mark in done.stderr for mark in ("at org.apache", "Py4JJavaError", "java.lang."))
    errors = [o for c in nbformat.read(executed, as_version=4).cells
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert [(e.ename, e.evalue.split(",")[0]) for e in errors] == [
        ("InputError", str(data / "tickets.csv"))
    ]
    assert not out.exists()


# -- record-level problems: handled, every record accounted for -----------------------

def _read_csv(path: Path) -> list[dict]:
    csv.field_size_limit(2 * TEN_MB)  # the 10 MB field
    return csv_records(path)


def _quality(out: Path) -> dict[tuple[str, str], int]:
    return {(r["dataset"], r["outcome"]): int(r["rows"]) for r in _read_csv(out / "data_quality.csv")}


def _run_00(tmp_path: Path, data: Path, spark_remote: str) -> Path:
    out = tmp_path / "output"
    env = {**os.environ, "SPARK_REMOTE": spark_remote}
    done = subprocess.run(
        runner_command("--data-dir", str(data), "--output-dir", str(out), "--only", "00",
                "--as-of-date", "2026-11-01", "--no-report"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


LONG_NAME = "L" * TEN_MB
MESSY_TICKET_LINES = [  # (line as written, reject reason or None)
    (GOOD_ROWS[0], None),
    ("", None),  # a blank line in the middle: not a record
    ("ORD-9|1|Harbour City v Northgate|12-Aug-2023|Harbour Park|2023-08-01 10:00:00|2|20.00|x",
     "malformed_row"),  # an extra field
    ("ORD-8|1|Harbour City v Northgate|12-Aug-2023|Harbour Park|2023-08-01 10:00:00|2",
     "malformed_row"),  # a missing field
    (GOOD_ROWS[1].replace("|", ","), "malformed_row"),  # commas in one row
    ("ORD-7|2|Café v Zürich|12-Aug-2023|Ground|2023-08-01 10:00:00|zwei|20.00",
     "invalid_quantity"),
    ("ORD-6|99|Harbour City v Northgate|12-Aug-2023|Harbour Park|2023-08-01 10:00:00|2|20.00",
     "unknown_customer"),
    (f"ORD-5|1|{LONG_NAME}", "malformed_row"),  # one line of 10 MB
    ("   ", None),  # spaces only: blank
    (GOOD_ROWS[2], None),
    ("ORD-1|2|Harbour City v Northgate|12-Aug-2023|Harbour Park|2023-08-01 10:00:00|2|20.00",
     "duplicate_order_id"),
]


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory, spark_remote):
    """Tickets with a BOM, CRLF line ends, blank lines inside and at the end and
    one 10 MB line; customers as JSON Lines with a BOM, CRLF, a blank line and
    a truncated last record."""
    base = tmp_path_factory.mktemp("messy")
    body = "\r\n".join([HEADER] + [line for line, _ in MESSY_TICKET_LINES]) + "\r\n\r\n\r\n"
    customers = "\r\n".join([json.dumps(c, ensure_ascii=False) for c in CUSTOMERS] + ["", '{"CustomerIdentity": 3, "Fir'])
    data = _write_inputs(base / "data", b"\xef\xbb\xbf" + body.encode(),
                         b"\xef\xbb\xbf" + customers.encode())
    return _run_00(base, data, spark_remote)


@pytest.mark.slow
def test_bom_crlf_blank_lines_and_long_lines_are_handled(messy_run):
    quality = _quality(messy_run)
    records = [(line, reason) for line, reason in MESSY_TICKET_LINES if line.strip()]
    assert quality[("tickets", "clean")] == sum(reason is None for _, reason in records) == 2
    rejected = _read_csv(messy_run / "rejects" / "tickets_rejected.csv")
    assert [r["reject_reason"] for r in rejected] == [reason for _, reason in records if reason]
    assert rejected[0]["net_sales"] == "20.00|x"  # extra fields kept, not lost
    assert rejected[2]["order_id"] == "ORD-2,2,Harbour City v Northgate,Aug-12-2023,Harbour Park," \
                                      "2023-08-02 11:00:00,1,10.00"
    assert rejected[3]["event_name"] == "Café v Zürich"
    long_row = rejected[5]
    assert (long_row["order_id"], len(long_row["event_name"])) == ("ORD-5", TEN_MB)
    assert long_row["event_name"] == LONG_NAME and long_row["net_sales"] == ""
    assert all(not v.endswith("\r") for r in rejected for v in r.values())


@pytest.mark.slow
def test_truncated_json_lines_record_is_rejected_not_dropped(messy_run):
    assert _quality(messy_run)[("customers", "clean")] == 2
    rejected = _read_csv(messy_run / "rejects" / "customers_rejected.csv")
    assert rejected == [{"raw_record": '{"CustomerIdentity": 3, "Fir',
                         "reject_reason": "malformed_json"}]


@pytest.mark.slow
def test_raw_equals_clean_plus_rejected(messy_run):
    quality = _quality(messy_run)
    raw_tickets = sum(1 for line, _ in MESSY_TICKET_LINES if line.strip())
    assert sum(n for (ds, _), n in quality.items() if ds == "tickets") == raw_tickets
    assert sum(n for (ds, _), n in quality.items() if ds == "customers") == len(CUSTOMERS) + 1


@pytest.mark.slow
def test_a_json_array_of_customers_is_accepted(tmp_path, spark_remote):
    """A pretty-printed top-level array (BOM, CRLF) instead of JSON Lines; a
    non-object element is rejected as malformed_json with its compact JSON."""
    array = json.dumps([*CUSTOMERS, [1, 2], CUSTOMERS[0]], indent=2, ensure_ascii=False).replace("\n", "\r\n")
    data = _write_inputs(tmp_path / "data", GOOD_TICKETS.replace(b"\n", b"\r\n"),
                         b"\xef\xbb\xbf" + array.encode() + b"\r\n")
    out = _run_00(tmp_path, data, spark_remote)
    assert _quality(out) == {("customers", "clean"): 2, ("customers", "duplicate_customer_id"): 1,
                             ("customers", "malformed_json"): 1, ("tickets", "clean"): 3}
    rejected = _read_csv(out / "rejects" / "customers_rejected.csv")
    assert [r["reject_reason"] for r in rejected] == ["malformed_json", "duplicate_customer_id"]
    assert rejected[0]["raw_record"] == "[1,2]"
    assert json.loads(rejected[1]["raw_record"]) == CUSTOMERS[0]


# -- bytes that are not UTF-8 in one line: that record is rejected, the rest is processed --

BAD_BYTES_TICKET = (b"ORD-4|2|Caf\xe9 v Town|12-Aug-2023|Harbour\x96Park|"
                    b"2023-08-01 10:00:00|1|20.00\r\n")  # Windows-1252 e-acute and en dash
LEGIT_FFFD_TICKET = "ORD-5|2|Harbour City v \ufffd|12-Aug-2023|Harbour Park|2023-08-03 10:00:00|1|5.00\n"
BAD_BYTES_CUSTOMER = (b'{"CustomerIdentity": 3, "Customer Title": "Mr", "First Name": "Ren\xe9", '
                      b'"Last Name": "Roy"}\n')
LEGIT_FFFD_CUSTOMER = '{"CustomerIdentity": 4, "First Name": "\ufffd"}\n'


@pytest.fixture(scope="module")
def bad_bytes_run(tmp_path_factory, spark_remote):
    """One ticket line and one customer line holding Windows-1252 bytes among
    good lines, and one of each holding a real U+FFFD (valid UTF-8)."""
    base = tmp_path_factory.mktemp("bad-bytes")
    tickets = GOOD_TICKETS + BAD_BYTES_TICKET + LEGIT_FFFD_TICKET.encode()
    customers = GOOD_CUSTOMERS + BAD_BYTES_CUSTOMER + LEGIT_FFFD_CUSTOMER.encode()
    return _run_00(base, _write_inputs(base / "data", tickets, customers), spark_remote)


@pytest.mark.slow
def test_a_ticket_line_with_bytes_that_are_not_utf8_is_one_malformed_row(bad_bytes_run):
    quality = _quality(bad_bytes_run)
    assert {k: n for k, n in quality.items() if k[0] == "tickets"} == {
        ("tickets", "clean"): 4, ("tickets", "malformed_row"): 1}
    rejected = _read_csv(bad_bytes_run / "rejects" / "tickets_rejected.csv")
    decoded = BAD_BYTES_TICKET.decode("utf-8", errors="replace").rstrip("\r\n")
    assert decoded.count("\ufffd") == 2
    assert rejected == [dict(zip([*TICKET_COLUMNS, "reject_reason"],
                                 [*decoded.split("|"), "malformed_row"], strict=True))]


@pytest.mark.slow
def test_a_customer_line_with_bytes_that_are_not_utf8_is_malformed_json(bad_bytes_run):
    quality = _quality(bad_bytes_run)
    assert {k: n for k, n in quality.items() if k[0] == "customers"} == {
        ("customers", "clean"): 3, ("customers", "malformed_json"): 1}
    rejected = _read_csv(bad_bytes_run / "rejects" / "customers_rejected.csv")
    assert rejected == [{"raw_record": BAD_BYTES_CUSTOMER.decode("utf-8", errors="replace").strip(),
                         "reject_reason": "malformed_json"}]
