"""Cleaning rules (docs/contract.md §2), end to end from files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import d, money, ts

from lib import cleaning
from lib.readers import read_raw_customers, read_ticket_lines
from lib.schema import CUSTOMER_COLUMNS, TICKET_COLUMNS

HEADER = "|".join(TICKET_COLUMNS)
OK = "A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00"

CUSTOMER_LINES = [
    ('{"CustomerIdentity": 1, "Customer Title": " MRS. ", "First Name": " Jane ", '
     '"Last Name": "Doe", "Email": "jane@example.com", '
     '"contact_details": {"phone": "07700 900123", "postcode": " SW1A 1AA "}}', None),
    ('{"CustomerIdentity": "2", "Customer Title": "dr"}', None),
    ('{"CustomerIdentity": 3}', None),
    ('{"CustomerIdentity": 1, "First Name": "Again"}', "duplicate_customer_id"),
    ('{"CustomerIdentity": -3}', "invalid_customer_id"),
    ('{"CustomerIdentity": "abc"}', "invalid_customer_id"),
    ('{"CustomerIdentity": 2.0}', "invalid_customer_id"),
    ('{"Customer Title": "Mr"}', "invalid_customer_id"),
    ('{"CustomerIdentity": 4, "Customer Title": "Mr"', "malformed_json"),
    ("[1, 2]", "malformed_json"),
    ('"just text"', "malformed_json"),
    ('{"CustomerIdentity": 5, "Customer Title": null}', None),
]

# (line, expected reason); customers 1, 2, 3, 5 are clean.
TICKET_LINES = [
    (f"ORD-1|1|{OK}", None),
    (" ORD-2 | 2 | A v B | aug-12-2023 | Stad | 2023-08-01 10:00:00 | 3 | 30 ", None),
    ("ORD-3|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2", "malformed_row"),
    (f"ORD-4|1|{OK}|extra", "malformed_row"),
    (f"   |1|{OK}", "missing_order_id"),
    (f"ORD-6|abc|{OK}", "invalid_customer_id"),
    (f"ORD-7|0|{OK}", "invalid_customer_id"),
    ("ORD-8|1| |12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00", "missing_event_name"),
    ("ORD-9|1|A v B|31-Feb-2023|Stad|2023-08-01 10:00:00|2|20.00", "invalid_event_date"),
    ("ORD-10|1|A v B|12-Aug-2023|Stad|2023-08-01 25:00:00|2|20.00", "invalid_purchase_ts"),
    ("ORD-11|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|0|20.00", "invalid_quantity"),
    ("ORD-12|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|1.5|20.00", "invalid_quantity"),
    ("ORD-13|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|-1", "invalid_net_sales"),
    ("ORD-14|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|abc", "invalid_net_sales"),
    (f"ORD-15|99|{OK}", "unknown_customer"),
    (f"ORD-16|4|{OK}", "unknown_customer"),  # customer 4's record is malformed
    (f"ORD-1|1|{OK}", "duplicate_order_id"),
    ("   |abc| |bad|Stad|x|0|-1", "missing_order_id"),  # first failing rule wins
    ("ORD-19|abc|A v B|bad|Stad|x|0|-1", "invalid_customer_id"),
    ("ORD-20|1|A v B|bad|Stad|2023-08-01 10:00:00|2|20.00", "invalid_event_date"),
    (f"ORD-20|1|{OK}", None),  # first occurrence that passes is kept
    (f"ORD-20|1|{OK}", "duplicate_order_id"),
    (f" ORD-1 |1|{OK}", "duplicate_order_id"),  # same id after trimming
    (f"ORD-24|3|{OK}\r", None),  # CRLF line end
    ("ORD-25|1|A v B|12-Aug-2023|Stad|2023-08-01 10:00:00|+2|.5", None),
]


def _write(tmp_path: Path, tickets: list[str], customers: list[str]) -> tuple[Path, Path]:
    tickets_path = tmp_path / "tickets.csv"
    customers_path = tmp_path / "customer.json"
    tickets_path.write_text(HEADER + "\n" + "\n".join(tickets) + "\n\n")
    customers_path.write_text("\n".join(customers) + "\n\n")
    return tickets_path, customers_path


@pytest.fixture(scope="module")
def classified(spark, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("staging")
    tickets_path, customers_path = _write(
        tmp_path,
        [line for line, _ in TICKET_LINES[:5]] + [""] + [line for line, _ in TICKET_LINES[5:]],
        [line for line, _ in CUSTOMER_LINES],
    )
    customers = cleaning.classify_customers(read_raw_customers(spark, customers_path)).cache()
    clean_ids = customers.where("reject_reason IS NULL").select("customer_id")
    tickets = cleaning.classify_tickets(read_ticket_lines(spark, tickets_path), clean_ids).cache()
    return customers, tickets


def test_every_customer_rule_in_file_order(classified):
    customers, _ = classified
    got = [r.reject_reason for r in customers.orderBy("_row_seq").collect()]
    assert got == [reason for _, reason in CUSTOMER_LINES]


def test_every_ticket_rule_in_file_order(classified):
    _, tickets = classified
    got = [r.reject_reason for r in tickets.orderBy("_row_seq").collect()]
    assert got == [reason for _, reason in TICKET_LINES]


def test_clean_customer_fields_are_trimmed_and_typed(classified):
    customers, _ = classified
    clean = cleaning.clean_rows(customers, CUSTOMER_COLUMNS).orderBy("_row_seq")
    got = [tuple(r)[1:] for r in clean.collect()]
    assert got == [
        (1, "Mrs", "Jane", "Doe", "jane@example.com", "07700 900123", "SW1A 1AA"),
        (2, "Dr", None, None, None, None, None),
        (3, "Unknown", None, None, None, None, None),
        (5, "Unknown", None, None, None, None, None),
    ]


def test_clean_tickets_are_trimmed_and_typed(classified):
    _, tickets = classified
    clean = cleaning.clean_rows(tickets, TICKET_COLUMNS).orderBy("_row_seq")
    got = {r.order_id: tuple(r)[1:] for r in clean.collect()}
    assert got["ORD-2"] == (
        "ORD-2", 2, "A v B", d("2023-08-12"), "Stad", ts("2023-08-01 10:00:00"), 3, money("30.00")
    )
    assert got["ORD-25"][-2:] == (2, money("0.50"))
    assert sorted(got) == ["ORD-1", "ORD-2", "ORD-20", "ORD-24", "ORD-25"]


def test_rejected_tickets_keep_fields_exactly_as_read(classified):
    _, tickets = classified
    rejected = cleaning.rejected_tickets(tickets).orderBy("_row_seq").collect()
    short = rejected[0]  # ORD-3: seven fields, net_sales missing
    assert (short.order_id, short.quantity, short.net_sales) == ("ORD-3", "2", None)
    long = rejected[1]  # ORD-4: extra field kept joined in net_sales
    assert long.net_sales == "20.00|extra"
    assert rejected[2].order_id == "   "
    spaced = [r for r in rejected if r.order_id == " ORD-1 "]
    assert spaced and spaced[0].reject_reason == "duplicate_order_id"


def test_rejected_customers_keep_the_raw_line(classified):
    customers, _ = classified
    rejected = cleaning.rejected_customers(customers).orderBy("_row_seq").collect()
    assert [r.raw_record for r in rejected][:2] == [
        CUSTOMER_LINES[3][0], CUSTOMER_LINES[4][0]
    ]


def test_json_array_file_is_accepted(spark, tmp_path):
    path = tmp_path / "customer.json"
    path.write_text('[{"CustomerIdentity": 1, "Customer Title": "mr."},\n {"CustomerIdentity": 0}, 7]')
    classified = cleaning.classify_customers(read_raw_customers(spark, path)).orderBy("_row_seq")
    got = [(r.raw_record, r.customer_title if r.reject_reason is None else r.reject_reason)
           for r in classified.collect()]
    assert got == [
        ('{"CustomerIdentity":1,"Customer Title":"mr."}', "Mr"),
        ('{"CustomerIdentity":0}', "invalid_customer_id"),
        ("7", "malformed_json"),
    ]



def test_a_json_string_element_keeps_its_quotes_in_raw_record(spark, tmp_path):
    """Compact JSON of a string element is the quoted string (told apart from a
    line of text); an object keeps its keys in the order written."""
    path = tmp_path / "customer.json"
    path.write_text('[{"b": 1, "CustomerIdentity": 2}, "this is not json", "say \\"hi\\"", null]')
    classified = cleaning.classify_customers(read_raw_customers(spark, path)).orderBy("_row_seq")
    got = [(r.raw_record, r.reject_reason) for r in classified.collect()]
    assert got[:3] == [
        ('{"b":1,"CustomerIdentity":2}', None),
        ('"this is not json"', "malformed_json"),
        ('"say \\"hi\\""', "malformed_json"),
    ]


# -- bytes that are not UTF-8: the record is rejected, its text kept with U+FFFD --------

def test_a_ticket_line_that_is_not_utf8_is_malformed_row_even_with_eight_fields(spark, tmp_path):
    lines = [
        f"ORD-1|1|{OK}".encode(),
        b"ORD-2|1|Caf\xe9 v B|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00",  # Windows-1252
        "ORD-3|1|A v \ufffd|12-Aug-2023|Stad|2023-08-01 10:00:00|2|20.00".encode(),  # real U+FFFD
        b"ORD-4|1|A v B|12-Aug-2023|St\x96d|2023-08-01 10:00:00|2|20.00|extra",
    ]
    tickets_path, customers_path = tmp_path / "tickets.csv", tmp_path / "customer.json"
    tickets_path.write_bytes(HEADER.encode() + b"\n" + b"\r\n".join(lines) + b"\r\n")
    customers_path.write_text('{"CustomerIdentity": 1}\n')
    clean_ids = cleaning.classify_customers(read_raw_customers(spark, customers_path)).select("customer_id")
    tickets = cleaning.classify_tickets(read_ticket_lines(spark, tickets_path), clean_ids)
    got = tickets.orderBy("_row_seq").collect()
    assert [r.reject_reason for r in got] == [None, "malformed_row", None, "malformed_row"]
    assert got[2].event_name == "A v \ufffd"
    rejected = cleaning.rejected_tickets(tickets).orderBy("_row_seq").collect()
    assert [tuple(r)[:-2] for r in rejected] == [
        tuple(lines[1].decode("utf-8", errors="replace").split("|")),
        ("ORD-4", "1", "A v B", "12-Aug-2023", "St\ufffdd", "2023-08-01 10:00:00", "2", "20.00|extra"),
    ]


def test_a_customer_line_that_is_not_utf8_is_malformed_json(spark, tmp_path):
    lines = [
        b'{"CustomerIdentity": 1, "First Name": "Ren\xe9"}',  # valid JSON, Windows-1252 byte
        '{"CustomerIdentity": 2, "First Name": "\ufffd"}'.encode(),  # a real U+FFFD
        b'{"CustomerIdentity": 3, "First Name": "Ann"}',
        b'{"CustomerIdentity": 4, "First Name": "Bo\xc3',  # cut off inside a character
    ]
    path = tmp_path / "customer.json"
    path.write_bytes(b"\n".join(lines))
    got = cleaning.classify_customers(read_raw_customers(spark, path)).orderBy("_row_seq").collect()
    assert [(r.reject_reason, r.first_name) for r in got][:3] == [
        ("malformed_json", "Ren\ufffd"), (None, "\ufffd"), (None, "Ann")]
    assert got[3].reject_reason == "malformed_json"
    rejected = cleaning.rejected_customers(cleaning.classify_customers(read_raw_customers(spark, path)))
    assert [r.raw_record for r in rejected.orderBy("_row_seq").collect()] == [
        lines[0].decode("utf-8", errors="replace"), lines[3].decode("utf-8", errors="replace")]


def test_a_json_array_element_that_is_not_utf8_is_malformed_json(spark, tmp_path):
    path = tmp_path / "customer.json"
    path.write_bytes(b'[{"CustomerIdentity": 1, "First Name": "\xef\xbf\xbd"},\n'
                     b' {"CustomerIdentity": 2, "First Name": "Ren\xe9", "Last Name": "\xef\xbf\xbd"},\n'
                     b' {"CustomerIdentity": 3, "First Name": "Ann"},\n'
                     b' {"CustomerIdentity": 4, "First Name": "\\uFFFD"}]')  # a JSON escape
    classified = cleaning.classify_customers(read_raw_customers(spark, path)).orderBy("_row_seq")
    got = [(r.raw_record, r.reject_reason) for r in classified.collect()]
    assert got == [
        ('{"CustomerIdentity":1,"First Name":"\ufffd"}', None),
        ('{"CustomerIdentity":2,"First Name":"Ren\ufffd","Last Name":"\ufffd"}', "malformed_json"),
        ('{"CustomerIdentity":3,"First Name":"Ann"}', None),
        ('{"CustomerIdentity":4,"First Name":"\ufffd"}', None),
    ]
