"""Tests of generate_data.py without Spark: run it, then parse its files in pure Python.

The helper predicates below mirror docs/contract.md §2 closely enough to tell which
reject reason the generator meant; the authoritative cleaning is tested elsewhere.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REF = "2026-11-27"  # season 2026/27 is current
HEADER = "order_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|net_sales"
MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
DATE_FORMATS = {
    "dd-MMM-yyyy": re.compile(r"(?P<d>\d{2})-(?P<mon>[A-Za-z]{3})-(?P<y>\d{4})"),
    "MMM-dd-yyyy": re.compile(r"(?P<mon>[A-Za-z]{3})-(?P<d>\d{2})-(?P<y>\d{4})"),
    "yyyy-MM-dd": re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"),
    "dd/MM/yyyy": re.compile(r"(?P<d>\d{2})/(?P<m>\d{2})/(?P<y>\d{4})"),
}
INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
TICKET_REASONS = ["malformed_row", "missing_order_id", "invalid_customer_id",
                  "missing_event_name", "invalid_event_date", "invalid_purchase_ts",
                  "invalid_quantity", "invalid_net_sales", "unknown_customer",
                  "duplicate_order_id"]


def run_generator(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "generate_data.py"), "--out", str(out),
           "--reference-date", REF, *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


def parse_date(text: str) -> tuple[str, date] | None:
    """(format name, date) if text is a valid event_date per docs/contract.md §2.2, else None."""
    for name, rx in DATE_FORMATS.items():
        m = rx.fullmatch(text)
        if not m:
            continue
        g = m.groupdict()
        month = MONTHS.get(g["mon"].lower()) if "mon" in g else int(g["m"])
        try:
            return name, date(int(g["y"]), month or 0, int(g["d"]))
        except ValueError:
            return None
    return None


def parse_ts(text: str) -> datetime | None:
    if not TS.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def positive_int(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9]+", text)) and int(text) > 0


def classify_customers(lines: list[str]) -> tuple[list[str], dict[int, dict]]:
    """Reason (or 'clean') per non-blank line, and the clean customers by id."""
    reasons, clean = [], {}
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        cid = obj.get("CustomerIdentity") if isinstance(obj, dict) else None
        if not isinstance(obj, dict):
            reasons.append("malformed_json")
        elif type(cid) is not int or cid <= 0:
            reasons.append("invalid_customer_id")
        elif cid in clean:
            reasons.append("duplicate_customer_id")
        else:
            reasons.append("clean")
            clean[cid] = obj
    return reasons, clean


def ticket_reason(raw: list[str], clean_ids: dict) -> str:
    """First failing reason of docs/contract.md §2.2 (before the duplicate check), or 'clean'."""
    if len(raw) != 8:
        return "malformed_row"
    f = [x.strip(" ") for x in raw]
    checks = [
        ("missing_order_id", f[0] != ""),
        ("invalid_customer_id", positive_int(f[1])),
        ("missing_event_name", f[2] != ""),
        ("invalid_event_date", parse_date(f[3]) is not None),
        ("invalid_purchase_ts", parse_ts(f[5]) is not None),
        ("invalid_quantity", bool(INTEGER.fullmatch(f[6])) and int(f[6]) >= 1),
        ("invalid_net_sales", bool(NUMBER.fullmatch(f[7])) and float(f[7]) >= 0),
        ("unknown_customer", f[1].isdigit() and int(f[1]) in clean_ids),
    ]
    return next((reason for reason, ok in checks if not ok), "clean")


Data = collections.namedtuple("Data", "text lines rows reasons cust_lines cust_reasons clean")


def load(out: Path) -> Data:
    text = (out / "tickets.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    cust_lines = [x for x in (out / "customer.json").read_text("utf-8").split("\n") if x]
    cust_reasons, clean = classify_customers(cust_lines)
    rows = [line.split("|") for line in lines[1:] if line != ""]
    reasons, seen = [], set()
    for raw in rows:
        reason = ticket_reason(raw, clean)
        if reason == "clean":
            oid = raw[0].strip(" ")
            reason = "duplicate_order_id" if oid in seen else "clean"
            seen.add(oid)
        reasons.append(reason)
    return Data(text, lines, rows, reasons, cust_lines, cust_reasons, clean)


def rows_where(data: Data, reason: str) -> list[list[str]]:
    return [r for r, why in zip(data.rows, data.reasons, strict=True) if why == reason]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "nested" / "data"  # out dir is created
    run_generator(out)
    return out


@pytest.fixture(scope="module")
def data(default_run) -> Data:
    return load(default_run)


def test_same_flags_give_identical_bytes_and_new_seed_differs(default_run, tmp_path):
    run_generator(tmp_path / "again")
    run_generator(tmp_path / "seed7", "--seed", "7")
    for name in ("tickets.csv", "customer.json"):
        first = (default_run / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == first
        assert (tmp_path / "seed7" / name).read_bytes() != first
    assert sorted(p.name for p in default_run.iterdir()) == ["customer.json", "tickets.csv"]


def test_output_does_not_depend_on_worker_count(tmp_path):
    args = ("--orders", "210000", "--customers", "3000")  # three chunks
    run_generator(tmp_path / "one", *args, "--workers", "1")
    run_generator(tmp_path / "two", *args, "--workers", "2")
    for name in ("tickets.csv", "customer.json"):
        one = (tmp_path / "one" / name).read_bytes()
        assert one == (tmp_path / "two" / name).read_bytes()


def test_header_line_endings_and_blank_lines(data):
    assert data.lines[0] == HEADER
    assert "\r" not in data.text
    assert data.text.endswith("\n\n")  # a trailing blank line
    assert data.lines[1:-2].count("") >= 2  # and a few inside
    assert len(data.rows) == 10_000


def test_fields_are_eight_except_malformed_rows(data):
    counts = collections.Counter(len(r) for r in data.rows)
    odd = sum(n for k, n in counts.items() if k != 8)
    assert odd == data.reasons.count("malformed_row")
    assert any(k < 8 for k in counts) and any(k > 8 for k in counts)


def test_all_date_formats_and_one_event_in_several(data):
    formats_by_event = collections.defaultdict(set)
    for raw in rows_where(data, "clean"):
        fmt, day = parse_date(raw[3].strip(" "))
        formats_by_event[(raw[2].strip(" "), day)].add(fmt)
    assert set().union(*formats_by_event.values()) == set(DATE_FORMATS)
    assert max(len(f) for f in formats_by_event.values()) >= 2
    months = {m.group() for r in rows_where(data, "clean")
              if (m := re.search("[A-Za-z]{3}", r[3]))}
    assert any(m.islower() for m in months) and any(m.isupper() for m in months)
    names = collections.defaultdict(set)
    for name, day in formats_by_event:
        names[name].add(day)
    assert any(len(days) >= 2 for days in names.values())  # a fixture on two dates


def test_every_ticket_reject_reason_occurs(data):
    counts = collections.Counter(data.reasons)
    for reason in TICKET_REASONS:
        assert counts[reason] >= 3, (reason, counts)
    assert counts["clean"] / len(data.rows) >= 0.97
    malformed = rows_where(data, "malformed_row")
    assert any(len(r) < 8 for r in malformed) and any(len(r) > 8 for r in malformed)


def test_unknown_customers_include_rejected_customer_ids(data):
    ids = {int(raw[1].strip(" ")) for raw in rows_where(data, "unknown_customer")}
    truncated = set()
    for line, why in zip(data.cust_lines, data.cust_reasons, strict=True):
        m = re.match(r'\{"CustomerIdentity": (\d+)', line)
        if why == "malformed_json" and m:
            truncated.add(int(m.group(1)))
    assert ids & truncated and ids - truncated


def test_every_customer_reject_reason_and_messy_titles(data):
    counts = collections.Counter(data.cust_reasons)
    for reason in ("malformed_json", "invalid_customer_id", "duplicate_customer_id"):
        assert counts[reason] >= 3, counts
    assert counts["clean"] == 2000
    assert counts["clean"] / len(data.cust_lines) >= 0.97
    titles = collections.Counter(
        o.get("Customer Title", "<absent>") for o in data.clean.values())
    assert titles[None] and titles["<absent>"] and titles[""]
    assert {" MRS. ", "mr", "Mr.", "Dr.."} & set(titles)
    assert any("contact_details" not in o for o in data.clean.values())
    assert any((o.get("contact_details") or {}).get("phone", 1) is None
               for o in data.clean.values())


def test_harmless_mess_is_present(data):
    clean_rows = rows_where(data, "clean")
    assert any(any(x != x.strip(" ") for x in r) for r in clean_rows)  # padding
    assert any('"' in r[4] for r in clean_rows) and any("," in r[4] for r in clean_rows)
    names = [o[k] for o in data.clean.values() for k in ("First Name", "Last Name")]
    assert any(n[:1] in "=+-@" for n in names)
    assert any(not n.isascii() for n in names)
    assert any("," in n for n in names) and any('"' in n for n in names)
    assert any("'" in n for n in names)


def test_about_ten_percent_of_customers_never_order(data):
    buyers = {int(r[1].strip(" ")) for r in rows_where(data, "clean")}
    assert buyers <= set(data.clean)
    share = 1 - len(buyers) / len(data.clean)
    assert 0.07 <= share <= 0.16, share


def test_purchases_precede_events_and_statuses_vary(data):
    latest = {}
    for raw in rows_where(data, "clean"):
        day = parse_date(raw[3].strip(" "))[1]
        assert parse_ts(raw[5].strip(" ")) < datetime(day.year, day.month, day.day)
        cid = int(raw[1].strip(" "))
        latest[cid] = max(latest.get(cid, day), day)
    current = 2026  # season holding REF, starting 1 August

    def season(d: date) -> int:
        return d.year if d.month >= 8 else d.year - 1

    statuses = collections.Counter(
        (season(d) > current) - (season(d) < current) for d in latest.values())
    assert all(statuses[s] >= 0.05 * len(latest) for s in (-1, 0, 1)), statuses


def test_customer_json_lines_mostly_objects(data):
    parsed = 0
    for line in data.cust_lines:
        try:
            parsed += isinstance(json.loads(line), dict)
        except ValueError:
            pass
    assert parsed / len(data.cust_lines) >= 0.97
    assert parsed < len(data.cust_lines)
    assert isinstance(json.loads(data.cust_lines[0]), dict)
