"""Outputs 05-07 (docs/contract.md §5) on small hand-made data; expected rows worked out by hand.

* customer 1: two orders of equal quantity 5 at different times (the earlier
  one is rank 1), a smaller first order and a later drop to 1.
* customer 2: two orders of quantity 4 at the same second: order_id decides,
  by code point ('O-10' < 'O-9'); both also follow a smaller earlier order.
* customer 10: one order (in 05, absent from 06); sorts after 2 (numeric id).

Rows are given out of order on purpose.
"""

from __future__ import annotations

import pytest
from helpers import SCHEMAS, assert_rows, d, money, tickets_df, ts

from lib.insights import orders as O

TICKETS = [
    # seq, order_id, customer, event_name, event_date, venue, purchase_ts, qty, net_sales
    (1, "A-2", 1, "Ev B", "2023-02-01", "V", "2023-01-05 10:00:00", 5, "50.00"),
    (2, "K-1", 10, "Ev C", "2023-03-01", "V", "2023-01-02 10:00:00", 2, "20.00"),
    (3, "O-9", 2, "Ev C", "2023-03-01", "V", "2023-02-01 12:00:00", 4, "40.00"),
    (4, "A-1", 1, "Ev A", "2023-01-20", "V", "2023-01-01 10:00:00", 3, "30.00"),
    (5, "O-10", 2, "Ev C", "2023-03-01", "V", "2023-02-01 12:00:00", 4, "44.00"),
    (6, "A-4", 1, "Ev C", "2023-03-01", "V", "2023-01-10 10:00:00", 1, "10.00"),
    (7, "B-1", 2, "Ev A", "2023-01-20", "V", "2023-01-15 10:00:00", 1, "10.00"),
    (8, "A-3", 1, "Ev B", "2023-02-01", "V", "2023-01-03 10:00:00", 5, "55.00"),
]


def test_05_largest_order_per_customer(tickets):
    assert_rows(O.largest_order(tickets), SCHEMAS["05"], [
        # both 5: A-3 was bought earlier
        (1, "A-3", "Ev B", d("2023-02-01"), ts("2023-01-03 10:00:00"), 5, money("55.00")),
        # O-9 and O-10 both 4 at the same second: 'O-10' < 'O-9'
        (2, "O-10", "Ev C", d("2023-03-01"), ts("2023-02-01 12:00:00"), 4, money("44.00")),
        (10, "K-1", "Ev C", d("2023-03-01"), ts("2023-01-02 10:00:00"), 2, money("20.00")),
    ])


def test_06_second_largest_order_per_customer_with_two_orders(tickets):
    assert_rows(O.second_largest_order(tickets), SCHEMAS["05"], [
        # equal quantities are still two ranks
        (1, "A-2", "Ev B", d("2023-02-01"), ts("2023-01-05 10:00:00"), 5, money("50.00")),
        (2, "O-9", "Ev C", d("2023-03-01"), ts("2023-02-01 12:00:00"), 4, money("40.00")),
        # customer 10 has one order: no row
    ])


def test_order_of_rank_deeper_ranks_and_bad_rank(tickets):
    assert [r["order_id"] for r in O.order_of_rank(tickets, 3).collect()] == ["A-1", "B-1"]
    assert O.order_of_rank(tickets, 5).count() == 0
    with pytest.raises(ValueError):
        O.order_of_rank(tickets, 0)


def test_07_quantity_delta_in_purchase_order(tickets):
    assert_rows(
        O.order_quantity_delta(tickets),
        SCHEMAS["07"],
        [
            (1, "A-1", ts("2023-01-01 10:00:00"), "Ev A", d("2023-01-20"), 3, None, None),
            (1, "A-3", ts("2023-01-03 10:00:00"), "Ev B", d("2023-02-01"), 5, 3, 2),
            (1, "A-2", ts("2023-01-05 10:00:00"), "Ev B", d("2023-02-01"), 5, 5, 0),
            (1, "A-4", ts("2023-01-10 10:00:00"), "Ev C", d("2023-03-01"), 1, 5, -4),
            (2, "B-1", ts("2023-01-15 10:00:00"), "Ev A", d("2023-01-20"), 1, None, None),
            # same purchase second: order_id decides ('O-10' < 'O-9')
            (2, "O-10", ts("2023-02-01 12:00:00"), "Ev C", d("2023-03-01"), 4, 1, 3),
            (2, "O-9", ts("2023-02-01 12:00:00"), "Ev C", d("2023-03-01"), 4, 4, 0),
            (10, "K-1", ts("2023-01-02 10:00:00"), "Ev C", d("2023-03-01"), 2, None, None),
        ],
    )


def test_07_row_order_holds_across_many_partitions(spark):
    """The final order relies on range partitioning by customer: check it on
    more customers than partitions, given in reverse."""
    records = [
        (seq, f"X-{seq:03d}", 40 - seq // 3, "Ev", "2023-01-01", "V",
         f"2022-12-{1 + seq % 3:02d} 10:00:00", 1 + seq % 4, "1.00")
        for seq in range(120)
    ]
    result = O.order_quantity_delta(tickets_df(spark, records).repartition(7))
    keys = [(r["customer_id"], r["purchase_ts"], r["order_id"]) for r in result.collect()]
    assert keys == sorted(keys)
    assert len(keys) == 120
