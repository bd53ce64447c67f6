"""File-level input problems stop with a named error that says what to do."""

from __future__ import annotations

import pytest

from lib.errors import InputError
from lib.input_checks import CUSTOMER_CHECKS, TICKET_CHECKS, check_input_files, check_once
from lib.readers import read_raw_customers, read_raw_tickets
from lib.schema import TICKET_COLUMNS

HEADER = "|".join(TICKET_COLUMNS)
ROW = "ORD-1|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00"


def _tickets(tmp_path, content: bytes | str):
    path = tmp_path / "tickets.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        (HEADER + "\n", "has a header but no order rows"),
        (HEADER + "\n\n\n", "has a header but no order rows"),
        (HEADER.replace("|", ",") + "\n" + ROW.replace("|", ",") + "\n", "comma-separated"),
        (HEADER.replace("|venue", "") + "\n" + ROW + "\n", "missing: ['venue']"),
        (HEADER + "|extra\n" + ROW + "\n", "unexpected: ['extra']"),
        (HEADER.replace("quantity", "qty") + "\n" + ROW + "\n", "missing: ['quantity']; unexpected: ['qty']"),
    ],
)
def test_bad_tickets_file(spark, tmp_path, content, message):
    with pytest.raises(InputError, match="tickets.csv") as err:
        read_raw_tickets(spark, _tickets(tmp_path, content))
    assert message in str(err.value)


def test_missing_file_says_how_to_make_data(spark, tmp_path):
    with pytest.raises(InputError, match="generate_data.py"):
        read_raw_tickets(spark, tmp_path / "tickets.csv")


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"], ids=["UTF-16 LE", "UTF-16 BE"])
@pytest.mark.parametrize("name", ["tickets.csv", "customer.json"])
def test_a_utf16_file_is_refused_by_name(tmp_path, bom, name):
    codec = "utf-16-le" if bom == b"\xff\xfe" else "utf-16-be"
    text = HEADER + "\n" + ROW + "\n" if name == "tickets.csv" else '{"CustomerIdentity": 1}\n'
    path = tmp_path / name
    path.write_bytes(bom + text.encode(codec))
    with pytest.raises(InputError) as err:
        check_once(path, TICKET_CHECKS if name == "tickets.csv" else CUSTOMER_CHECKS)
    assert str(err.value) == (f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order "
                              "mark); re-save it as UTF-8 and run again")


def test_a_tickets_header_that_is_not_utf8_names_line_1(tmp_path):
    path = _tickets(tmp_path, HEADER.replace("venue", "venu\xe9").encode("latin-1") + b"\n"
                    + ROW.encode() + b"\n")
    with pytest.raises(InputError, match=r"tickets.csv, line 1: byte 0xe9 is not UTF-8"):
        check_once(path, TICKET_CHECKS)


def test_the_file_checks_pass_a_file_with_one_line_that_is_not_utf8(tmp_path):
    """One bad line is a bad record, not a bad file: the cheap checks before
    Spark let it through (also a file cut off inside a character)."""
    tickets = _tickets(tmp_path, (HEADER + "\n" + ROW + "\n").encode() + b"ORD-2|1|Caf\xe9|x\xe2\x82")
    customers = tmp_path / "customer.json"
    customers.write_bytes(b'{"CustomerIdentity": 1, "First Name": "Ren\xe9"}\n')
    check_input_files(tickets, customers)


# Lines as bytes: (bytes, has bytes that are not UTF-8)
MIXED_LINES = [
    (ROW.encode(), False),
    (b"ORD-2|1|Caf\xe9 v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00", True),  # Windows-1252
    ("ORD-3|1|A v \ufffd|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00".encode(), False),  # real U+FFFD
    (b"ORD-4|1|A v B|12-Aug-2023|St\xed\xa0\x80d|2023-08-01 10:00:00|2|20.00", True),  # a surrogate
    ("ORD-5|1|Zoë 😀|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00".encode(), False),
    (b"ORD-6|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|\x96\r", True),  # CRLF line end
    (b"ORD-7|1|A v B|12-Aug-2023", True),  # wrong field count and cut off inside a character
]


def test_a_line_that_is_not_utf8_is_malformed_and_read_with_replacement_characters(spark, tmp_path):
    content = HEADER.encode() + b"\n" + b"\n".join(line for line, _ in MIXED_LINES) + b"\xe2\x82"
    rows = read_raw_tickets(spark, _tickets(tmp_path, content)).orderBy("_row_seq").collect()
    assert [r._malformed for r in rows] == [bad or line.count(b"|") != 7 for line, bad in MIXED_LINES]
    expected = [line.decode("utf-8", errors="replace").removesuffix("\r") for line, _ in MIXED_LINES]
    expected[-1] += "\ufffd"
    assert [r.raw_line for r in rows] == expected
    assert [r.event_name for r in rows][:3] == ["A v B", "Caf\ufffd v B", "A v \ufffd"]
    assert rows[3].venue == "St\ufffd\ufffd\ufffdd"  # one per byte, as Python's decoder does


def test_bom_crlf_and_trailing_blank_lines_are_handled(spark, tmp_path):
    content = b"\xef\xbb\xbf" + (HEADER + "\r\n" + ROW + "\r\n\r\n\r\n").encode()
    rows = read_raw_tickets(spark, _tickets(tmp_path, content)).collect()
    assert len(rows) == 1 and rows[0].net_sales == "20.00" and not rows[0]._malformed


def test_very_long_line_is_one_malformed_record(spark, tmp_path):
    long_name = "x" * (10 * 1024 * 1024)
    content = HEADER + "\n" + ROW + "\n" + f"ORD-2|1|{long_name}\n"
    rows = read_raw_tickets(spark, _tickets(tmp_path, content)).orderBy("_row_seq").collect()
    assert [r._malformed for r in rows] == [False, True]
    assert len(rows[1].event_name) == len(long_name)


def test_customer_file_that_is_not_json(spark, tmp_path):
    path = tmp_path / "customer.json"
    path.write_text("CustomerIdentity,Title\n1,Mr\n")
    with pytest.raises(InputError, match=r"customer.json, line 1: not JSON"):
        read_raw_customers(spark, path)


def test_truncated_json_array(spark, tmp_path):
    path = tmp_path / "customer.json"
    path.write_text('[{"CustomerIdentity": 1}, {"CustomerIdentity": 2')
    with pytest.raises(InputError, match="not a valid JSON array"):
        read_raw_customers(spark, path)


def test_truncated_json_lines_file_rejects_only_the_last_record(spark, tmp_path):
    from lib.cleaning import classify_customers

    path = tmp_path / "customer.json"
    path.write_text('{"CustomerIdentity": 1}\n{"CustomerIdentity": 2, "Fir')
    got = [r.reject_reason for r in classify_customers(read_raw_customers(spark, path))
           .orderBy("_row_seq").collect()]
    assert got == [None, "malformed_json"]
