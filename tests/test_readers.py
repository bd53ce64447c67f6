"""File-level input problems stop with a named error that says what to do."""

from __future__ import annotations

import pytest

from lib.errors import InputError
from lib.readers import TICKET_COLUMNS, check_utf8, read_raw_customers, read_raw_tickets

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


def test_non_utf8_names_the_line(tmp_path):
    path = _tickets(tmp_path, (HEADER + "\n" + ROW + "\n").encode() + b"ORD-2|1|Caf\xe9|x\n")
    with pytest.raises(InputError, match=r"line 3: byte 0xe9 is not UTF-8"):
        check_utf8(path)


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
