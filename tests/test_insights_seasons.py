"""10 net sales by season and 11 purchaser status, worked out by hand."""

from __future__ import annotations

import pytest
from helpers import SCHEMAS, assert_rows, d, money, tickets_df

from lib.insights import seasons

SEASON_SCHEMA = SCHEMAS["10"]
STATUS_SCHEMA = SCHEMAS["11"]
CURRENT, PREVIOUS, FUTURE = (
    "Current Ticket Purchaser", "Previous Ticket Purchaser", "Future Ticket Purchaser",
)


def order(seq, customer_id, event_name, event_date, quantity=1, net_sales="10.00"):
    """A clean order; only the fields these insights use vary."""
    return (
        seq, f"O{seq}", customer_id, event_name, event_date, "Ground",
        "2020-01-01 12:00:00", quantity, net_sales,
    )


# ---- 10 -------------------------------------------------------------------

@pytest.mark.parametrize("start_month, expected", [
    (8, [("2022/23", 1, 2, money("5.00"), None, None),
         ("2023/24", 1, 3, money("7.50"), money("5.00"), money("50.00"))]),
    # calendar-year seasons: both days are in 2023
    (1, [("2023", 2, 5, money("12.50"), None, None)]),
], ids=["august-start", "calendar-year"])
def test_season_boundary_31_july_1_august(spark, start_month, expected):
    tickets = tickets_df(spark, [
        order(1, 1, "A", "2023-07-31", 2, "5.00"),
        order(2, 1, "B", "2023-08-01", 3, "7.50"),
    ])
    assert_rows(seasons.net_sales_by_season(tickets, start_month), SEASON_SCHEMA, expected)


def test_gap_season_has_zeros_and_zero_previous_gives_empty_pct(spark):
    tickets = tickets_df(spark, [
        order(1, 1, "A", "2019-03-01", 1, "200.00"),
        order(2, 1, "B", "2020-12-31", 2, "150.00"),
        order(3, 2, "C", "2020-01-01", 1, "50.01"),
        order(4, 2, "D", "2021-06-30", 1, "100.00"),
        # nothing in 2022
        order(5, 2, "E", "2023-01-01", 4, "50.00"),
    ])
    assert_rows(seasons.net_sales_by_season(tickets, 1), SEASON_SCHEMA, [
        ("2019", 1, 1, money("200.00"), None, None),
        # (200.01 - 200) / 200 * 100 = 0.005 -> 0.01 (half up)
        ("2020", 2, 3, money("200.01"), money("200.00"), money("0.01")),
        # (100 - 200.01) / 200.01 * 100 = -50.0024...
        ("2021", 1, 1, money("100.00"), money("200.01"), money("-50.00")),
        ("2022", 0, 0, money("0.00"), money("100.00"), money("-100.00")),
        ("2023", 1, 4, money("50.00"), money("0.00"), None),
    ])


def test_gap_seasons_with_august_start_and_negative_half(spark):
    tickets = tickets_df(spark, [
        order(1, 1, "A", "2021-08-01", 1, "200.00"),
        # 2022/23 and 2023/24 empty
        order(2, 1, "B", "2024-07-31", 1, "199.99"),  # still 2023/24
        order(3, 1, "C", "2024-08-01", 1, "199.99"),
    ])
    assert_rows(seasons.net_sales_by_season(tickets, 8), SEASON_SCHEMA, [
        ("2021/22", 1, 1, money("200.00"), None, None),
        ("2022/23", 0, 0, money("0.00"), money("200.00"), money("-100.00")),
        ("2023/24", 1, 1, money("199.99"), money("0.00"), None),
        # (199.99 - 199.99) = 0 -> 0.00
        ("2024/25", 1, 1, money("199.99"), money("199.99"), money("0.00")),
    ])


def test_negative_half_rounds_away_from_zero(spark):
    tickets = tickets_df(spark, [
        order(1, 1, "A", "2019-05-05", 1, "200.00"),
        order(2, 1, "B", "2020-05-05", 1, "199.99"),  # -0.005 % -> -0.01
    ])
    result = seasons.net_sales_by_season(tickets, 1)
    assert [r.net_sales_change_pct for r in result.collect()] == [None, money("-0.01")]


def test_season_with_free_orders_only_is_a_zero_previous(spark):
    """A season with orders but 0.00 net sales: pct after it is empty."""
    tickets = tickets_df(spark, [
        order(1, 1, "A", "2019-05-05", 2, "0.00"),
        order(2, 1, "B", "2020-05-05", 1, "10.00"),
    ])
    assert_rows(seasons.net_sales_by_season(tickets, 1), SEASON_SCHEMA, [
        ("2019", 1, 2, money("0.00"), None, None),
        ("2020", 1, 1, money("10.00"), money("0.00"), None),
    ])


def test_no_orders_no_seasons(spark):
    result = seasons.net_sales_by_season(tickets_df(spark, []), 8)
    assert_rows(result, SEASON_SCHEMA, [])


# ---- 11 -------------------------------------------------------------------

def test_latest_event_greatest_date_ties_by_name(spark):
    tickets = tickets_df(spark, [
        order(1, 1, "Beta", "2024-09-01"),
        order(2, 1, "Alpha", "2024-09-01"),
        order(3, 1, "Aardvark", "2024-08-31"),  # earlier date loses despite its name
        order(4, 1, "Alpha", "2024-09-01"),  # a second order for the same event
        # code-point order: upper case before lower case
        order(5, 2, "alpha", "2024-09-01"),
        order(6, 2, "Zulu", "2024-09-01"),
    ])
    result = seasons.purchaser_status(tickets, d("2024-11-01"), 8)
    assert_rows(result, STATUS_SCHEMA, [
        (1, "Alpha", d("2024-09-01"), "2024/25", "2024/25", CURRENT),
        (2, "Zulu", d("2024-09-01"), "2024/25", "2024/25", CURRENT),
    ])


STATUS_TICKETS = [
    order(1, 3, "Later fixture", "2025-08-01"),
    order(2, 1, "Old fixture", "2023-05-01"),
    order(3, 1, "This season", "2024-12-01"),
    order(4, 2, "Last day", "2024-07-31"),
]


# each customer's latest event in STATUS_TICKETS
LATEST = [
    (1, "This season", d("2024-12-01")),
    (2, "Last day", d("2024-07-31")),
    (3, "Later fixture", d("2025-08-01")),
]


@pytest.mark.parametrize("as_of_date, start_month, event_seasons, current, statuses", [
    ("2024-11-01", 8, ["2024/25", "2023/24", "2025/26"], "2024/25", [CURRENT, PREVIOUS, FUTURE]),
    # 31 Jul 2024 is still 2023/24
    ("2024-07-31", 8, ["2024/25", "2023/24", "2025/26"], "2023/24", [FUTURE, CURRENT, FUTURE]),
    # calendar-year seasons, on the first and on the last day of a year
    ("2024-01-01", 1, ["2024", "2024", "2025"], "2024", [CURRENT, CURRENT, FUTURE]),
    ("2025-12-31", 1, ["2024", "2024", "2025"], "2025", [PREVIOUS, PREVIOUS, CURRENT]),
], ids=["each-status", "as-of-31-july", "calendar-1-january", "calendar-31-december"])
def test_status_by_current_season(spark, as_of_date, start_month, event_seasons, current,
                                  statuses):
    result = seasons.purchaser_status(tickets_df(spark, STATUS_TICKETS), d(as_of_date), start_month)
    assert_rows(result, STATUS_SCHEMA, [
        (*latest, season, current, status)
        for latest, season, status in zip(LATEST, event_seasons, statuses, strict=True)
    ])


def test_no_orders_no_customers(spark):
    result = seasons.purchaser_status(tickets_df(spark, []), d("2024-11-01"), 8)
    assert_rows(result, STATUS_SCHEMA, [])
