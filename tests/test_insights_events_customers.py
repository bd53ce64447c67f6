"""Outputs 01-04 (docs/contract.md §5) on small hand-made data; expected rows worked out by hand.

Fixture (clean data as staging produces it):

* customer 1 (Mr): the same fixture name on two dates (two events), that
  fixture twice on one date (one event), and an event whose name starts with '='.
* customer 2 (Mrs): three events, one on an earlier date with a later name,
  and names differing by case ('H' < 'a' by code point).
* customer 3 (Mr): '(Cup) Final' and '=Risky v Town' on the same day: sorted
  by the raw name ('(' < '='), not by the escaped one ("'" < '(').
* customer 4 (Unknown): never ordered.
* customer 5 (Dr): two orders of one event; ties with customer 2 on tickets.
"""

from __future__ import annotations

from helpers import (
    SCHEMAS,
    assert_rows,
    columns_of,
    customers_df,
    d,
    event_id,
    money,
    rows,
    tickets_df,
)

from lib import cleaning
from lib.insights import customers as CU
from lib.insights import events as EV
from lib.schema import TICKET_COLUMNS

HARBOUR = "Harbour City v Northgate Rovers"
RISKY = "=Risky v Town"

TICKETS = [
    # seq, order_id, customer, event_name, event_date, venue, purchase_ts, qty, net_sales
    (1, "O1", 1, HARBOUR, "2023-08-12", "Harbour Park", "2023-07-01 10:00:00", 2, "40.00"),
    (2, "O2", 1, HARBOUR, "2023-08-12", "Other Ground", "2023-07-02 10:00:00", 1, "20.00"),
    (3, "O3", 1, HARBOUR, "2024-01-20", "Harbour Park", "2023-12-01 09:00:00", 3, "60.00"),
    (4, "O4", 1, RISKY, "2023-08-12", "Town Ground", "2023-07-03 10:00:00", 1, "10.00"),
    (5, "O5", 2, HARBOUR, "2023-08-12", None, "2023-07-04 10:00:00", 4, "70.00"),
    (6, "O6", 3, "(Cup) Final", "2023-08-12", "Cup Stadium", "2023-07-05 10:00:00", 5, "100.00"),
    (7, "O7", 3, RISKY, "2023-08-12", "Town Ground", "2023-07-06 10:00:00", 1, "10.50"),
    (8, "O8", 2, "apple Town v Zebra", "2023-08-12", "Orchard", "2023-07-07 10:00:00", 2, "30.00"),
    (9, "O9", 2, "zulu v Yankee", "2023-08-01", "Zulu Park", "2023-07-08 10:00:00", 1, "15.00"),
    (10, "O10", 5, HARBOUR, "2024-01-20", "Harbour Park", "2023-12-02 09:00:00", 3, "60.00"),
    (11, "O11", 5, HARBOUR, "2024-01-20", "Harbour Park", "2023-12-03 09:00:00", 4, "80.00"),
]
CUSTOMERS = [
    # seq, customer_id, title, first, last, email, phone, postcode
    (0, 3, "Mr", "Cy", "Cole", None, None, None),
    (1, 1, "Mr", "Ann", "Able", "ann@example.com", None, None),
    (2, 4, "Unknown", "Di", None, None, None, None),
    (3, 2, "Mrs", "Bea", "Baker", None, None, None),
    (4, 5, "Dr", "Eve", "Evans", None, None, None),
]


# --- 01 events ---------------------------------------------------------------


EVENTS_ROWS = [  # in the contract's row order: event_date, then event_name (code point)
    (event_id("zulu v Yankee", "2023-08-01"), "zulu v Yankee", d("2023-08-01"),
     "Tue 01 Aug 2023", "Zulu Park", "2023/24", 1, 1, money("15.00")),
    (event_id("(Cup) Final", "2023-08-12"), "(Cup) Final", d("2023-08-12"),
     "Sat 12 Aug 2023", "Cup Stadium", "2023/24", 1, 5, money("100.00")),
    (event_id(RISKY, "2023-08-12"), RISKY, d("2023-08-12"),
     "Sat 12 Aug 2023", "Town Ground", "2023/24", 2, 2, money("20.50")),
    # O1, O2, O5; venue of the first clean order in file order (O1)
    (event_id(HARBOUR, "2023-08-12"), HARBOUR, d("2023-08-12"),
     "Sat 12 Aug 2023", "Harbour Park", "2023/24", 3, 7, money("130.00")),
    (event_id("apple Town v Zebra", "2023-08-12"), "apple Town v Zebra",
     d("2023-08-12"), "Sat 12 Aug 2023", "Orchard", "2023/24", 1, 2, money("30.00")),
    # the same fixture name on another date is another event: O3, O10, O11
    (event_id(HARBOUR, "2024-01-20"), HARBOUR, d("2024-01-20"),
     "Sat 20 Jan 2024", "Harbour Park", "2023/24", 3, 10, money("200.00")),
]


def test_01_events_one_row_per_name_and_date(tickets):
    result = EV.events_summary(tickets, season_start_month=8)
    assert result.dtypes == columns_of(SCHEMAS["01"])
    assert sorted(rows(result), key=lambda r: (r[2], r[1])) == EVENTS_ROWS


def test_01_events_by_date_then_name(tickets):
    assert_rows(EV.events_summary(tickets, season_start_month=8), SCHEMAS["01"], EVENTS_ROWS)


def test_01_event_written_in_four_date_formats_is_one_event(spark):
    """Through the staging rules: four spellings of 12 Aug 2023 (and a name
    with stray spaces) are one event, for 01 and for 03."""
    lines = spark.createDataFrame(
        [
            (1, f"O1|1|{HARBOUR}|12-Aug-2023|Harbour Park|2023-07-01 10:00:00|1|10"),
            (2, f"O2|1| {HARBOUR} |aug-12-2023|Harbour Park|2023-07-02 10:00:00|2|20.5"),
            (3, f"O3|1|{HARBOUR}|2023-08-12|Harbour Park|2023-07-03 10:00:00|3|30.00"),
            (4, f"O4|1|{HARBOUR}|12/08/2023|Harbour Park|2023-07-04 10:00:00|4|40"),
        ],
        "_row_seq long, raw_line string",
    )
    known = spark.createDataFrame([(1,)], "customer_id long")
    clean = cleaning.clean_rows(cleaning.classify_tickets(lines, known), TICKET_COLUMNS)
    assert clean.count() == 4

    events = EV.events_summary(clean, season_start_month=8)
    assert rows(events.select("event_name", "event_date", "order_count", "tickets_sold", "net_sales")) == [
        (HARBOUR, d("2023-08-12"), 4, 10, money("100.50")),
    ]
    customer = customers_df(spark, [(0, 1, "Mr", "Ann", "Able", None, None, None)])
    assert rows(CU.customer_events(clean, customer).select("event_count", "events")) == [
        (1, f"{HARBOUR} (2023-08-12)"),
    ]


# --- 02 tickets by title -----------------------------------------------------


def test_02_tickets_by_title_desc_then_title(tickets, customers):
    assert_rows(
        CU.tickets_by_title(tickets, customers),
        SCHEMAS["02"],
        [
            ("Mr", 13, 6, 2),  # customer 1: 2+1+3+1, 4 orders; customer 3: 5+1, 2 orders
            ("Dr", 7, 2, 1),  # tie on 7 tickets with Mrs: title asc, 'D' < 'M'
            ("Mrs", 7, 3, 1),  # customer 2: 4+2+1
            # 'Unknown' (customer 4) has no clean order: no row
        ],
    )


# --- 03 customer events ------------------------------------------------------


def test_03_customer_events_list_by_date_then_raw_name(tickets, customers):
    assert_rows(
        CU.customer_events(tickets, customers),
        SCHEMAS["03"],
        [
            (1, "Ann", "Able", 3,
             f"'{RISKY} (2023-08-12); {HARBOUR} (2023-08-12); {HARBOUR} (2024-01-20)"),
            (2, "Bea", "Baker", 3,
             f"zulu v Yankee (2023-08-01); {HARBOUR} (2023-08-12); apple Town v Zebra (2023-08-12)"),
            (3, "Cy", "Cole", 2, f"(Cup) Final (2023-08-12); '{RISKY} (2023-08-12)"),
            # customer 4 never ordered: no row
            (5, "Eve", "Evans", 1, f"{HARBOUR} (2024-01-20)"),
        ],
    )


def test_03_list_item_that_looks_like_a_number_is_still_escaped(spark, customers):
    """The item is ``name (date)``: not a plain number, so a name like '-5' is
    escaped inside the list even though '-5' alone would not be."""
    tickets = tickets_df(spark, [
        (1, "O1", 1, "-5", "2023-08-12", "V", "2023-07-01 10:00:00", 1, "1.00"),
        (2, "O2", 1, "+44 Cup", "2023-08-13", "V", "2023-07-01 10:00:00", 1, "1.00"),
    ])
    assert rows(CU.customer_events(tickets, customers).select("events")) == [
        ("'-5 (2023-08-12); '+44 Cup (2023-08-13)",),
    ]


# --- 04 customers multi event ------------------------------------------------


def test_04_every_customer_with_event_count_and_multi_event(tickets, customers):
    assert_rows(
        CU.customers_multi_event(tickets, customers),
        SCHEMAS["04"],
        [
            (1, "Mr", "Ann", "Able", 3, True),
            (2, "Mrs", "Bea", "Baker", 3, True),
            (3, "Mr", "Cy", "Cole", 2, True),
            (4, "Unknown", "Di", None, 0, False),  # no order: 0 and false, not empty
            (5, "Dr", "Eve", "Evans", 1, False),  # two orders, one event
        ],
    )


def test_04_no_orders_at_all_still_lists_every_customer(spark, tickets, customers):
    no_tickets = tickets.limit(0)
    result = CU.customers_multi_event(no_tickets, customers)
    assert rows(result.select("customer_id", "event_count", "MultiEvent")) == [
        (1, 0, False), (2, 0, False), (3, 0, False), (4, 0, False), (5, 0, False),
    ]
