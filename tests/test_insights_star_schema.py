"""08 denormalized table and 09 data model, on hand-made clean data."""

from __future__ import annotations

import hashlib

import pytest
import star_rows
from helpers import (
    assert_rows,
    columns_of,
    contract_schema,
    d,
    event_id,
    money,
    rows,
    tickets_df,
    ts,
)
from star_rows import FINAL, HARBOUR

from lib.insights import events, star_schema

# the rows the tickets and customers fixtures (tests/conftest.py) read
TICKETS, CUSTOMERS = star_rows.TICKETS, star_rows.CUSTOMERS

ANN = (1, "Mr", "Ann", "Smith", "ann@example.com", "+44 7700 900123", "AB1 2CD")
BOB = (2, "Unknown", "=Bob", None, None, None, None)
H23 = (event_id(HARBOUR, "2023-08-12"), HARBOUR, d("2023-08-12"), "Harbour Park", "2023/24")
FIN = (event_id(FINAL, "2024-05-01"), FINAL, d("2024-05-01"), "Wembley", "2023/24")
H24 = (event_id(HARBOUR, "2024-08-12"), HARBOUR, d("2024-08-12"), None, "2024/25")

EXPECTED_08 = [
    ("O2", ts("2023-07-01 09:00:00"), 1, money("10.50"), *H23, *BOB),
    ("O1", ts("2023-07-01 10:00:00"), 2, money("20.00"), *H23, *ANN),
    ("O0", ts("2024-01-01 12:00:00"), 1, money("25.00"), *FIN, *BOB),
    ("O3", ts("2024-01-01 12:00:00"), 4, money("100.00"), *FIN, *ANN),
    ("O5", ts("2024-08-01 00:00:00"), 3, money("30.00"), *H24, *BOB),
]


def test_denormalized_columns_rows_and_order(tickets, customers):
    result = star_schema.tickets_denormalized(tickets, customers, 8)
    assert_rows(
        result,
        contract_schema("tickets_denormalized"),
        EXPECTED_08,
    )


def test_denormalized_season_follows_start_month(tickets, customers):
    result = star_schema.tickets_denormalized(tickets, customers, 1)
    assert [r.season for r in result.collect()] == ["2023", "2023", "2024", "2024", "2024"]


def test_dim_customer_has_every_clean_customer(customers):
    assert_rows(
        star_schema.dim_customer(customers),
        contract_schema("dim_customer"),
        [ANN, BOB, (3, "Dr", "Cy", "Lee", "cy@example.com", "07700", "ZZ9 9ZZ")],
    )


def test_dim_event_by_date_then_name(tickets):
    assert_rows(
        star_schema.dim_event(tickets, 8),
        contract_schema("dim_event"),
        [H23, FIN, H24],
    )


def test_fact_transaction_keys_and_order(tickets):
    assert_rows(
        star_schema.fact_transaction(tickets),
        contract_schema("fact_transaction"),
        [
            ("O2", 2, H23[0], ts("2023-07-01 09:00:00"), 1, money("10.50")),
            ("O1", 1, H23[0], ts("2023-07-01 10:00:00"), 2, money("20.00")),
            ("O0", 2, FIN[0], ts("2024-01-01 12:00:00"), 1, money("25.00")),
            ("O3", 1, FIN[0], ts("2024-01-01 12:00:00"), 4, money("100.00")),
            ("O5", 2, H24[0], ts("2024-08-01 00:00:00"), 3, money("30.00")),
        ],
    )


def test_joining_the_model_reproduces_08_row_for_row(tickets, customers):
    rebuilt = star_schema.rebuild_denormalized(
        star_schema.fact_transaction(tickets), star_schema.dim_customer(customers), star_schema.dim_event(tickets, 8)
    )
    assert_rows(rebuilt, contract_schema("tickets_denormalized"), EXPECTED_08)


def test_event_id_is_the_same_in_01_08_and_09(tickets, customers):
    from_01 = {(r.event_name, r.event_date): r.event_id for r in
               events.events_summary(tickets, 8).collect()}
    from_09 = {(r.event_name, r.event_date): r.event_id for r in
               star_schema.dim_event(tickets, 8).collect()}
    from_08 = {(r.event_name, r.event_date): r.event_id for r in
               star_schema.tickets_denormalized(tickets, customers, 8).collect()}
    fact_ids = {r.event_id for r in star_schema.fact_transaction(tickets).collect()}
    assert from_01 == from_09 == from_08
    assert fact_ids == set(from_09.values())
    assert len(fact_ids) == 3  # same name on two dates: two ids


def test_event_id_is_stable_across_runs_and_seasons(spark, tickets):
    """The id is a pure function of (name, date): the independently computed
    hash, whatever the season parameter or the other rows."""
    assert rows(star_schema.dim_event(tickets, 1).select("event_id")) == [
        (H23[0],), (FIN[0],), (H24[0],)
    ]
    alone = tickets_df(spark, [TICKETS[2]])
    assert rows(star_schema.fact_transaction(alone).select("event_id")) == [(FIN[0],)]
    assert FIN[0] == "EV-" + hashlib.sha256(b"Cup Final|2024-05-01").hexdigest()[:12]


def test_no_orders_gives_empty_tables_with_the_columns(spark, customers):
    empty = tickets_df(spark, [])
    result = star_schema.tickets_denormalized(empty, customers, 8)
    assert result.dtypes == columns_of(contract_schema("tickets_denormalized"))
    assert result.count() == 0
    assert star_schema.fact_transaction(empty).count() == 0


@pytest.mark.slow  # two joins over the pinned orders; the hand-made model's test is quick
def test_joining_the_model_reproduces_08_on_the_pinned_data(spark, tmp_path_factory):
    """What notebook 09 does not check on every run (two full joins): the
    model's tables, joined, equal 08 computed directly, row for row and in order."""
    from lib.config import make_params
    from lib.staged import load_staged
    from lib.suite.pinned import PARAMETERS, make_pinned_data

    root = tmp_path_factory.mktemp("model")
    month = PARAMETERS["season_start_month"]
    staged = load_staged(spark, make_params(make_pinned_data(root / "data"), root / "output",
                                            PARAMETERS["as_of_date"], month))
    t, c = staged.tickets, staged.customers
    rebuilt = star_schema.rebuild_denormalized(
        star_schema.fact_rows(t), star_schema.dim_customer(c), star_schema.dim_event(t, month))
    direct = star_schema.tickets_denormalized(t, c, month)
    assert rebuilt.columns == direct.columns
    rebuilt_rows, direct_rows = rebuilt.collect(), direct.collect()  # pinned data: small
    assert len(direct_rows) > 1000
    assert rebuilt_rows == direct_rows


# Broken on purpose, violations counted by hand (a null key breaks every rule):
BROKEN = {
    "dim_customer": ("customer_id long", [(1,), (2,), (2,), (None,)]),  # 2 repeated, a null
    "dim_event": ("event_id string, event_name string, event_date date", [
        ("E1", "A", d("2024-01-01")), ("E2", "A", d("2024-01-01")),  # (A, 1 Jan) twice
        ("E3", "B", None), ("E3", "C", d("2024-02-01"))]),  # E3 twice; a null date
    "fact_transaction": ("order_id string, customer_id long, event_id string", [
        ("O1", 1, "E1"), ("O1", 3, "E9"), ("O2", None, None)]),  # O1 twice; 3, E9 unknown
}
BROKEN_VIOLATIONS = [
    ("dim_customer", "customer_id present and unique", 2),
    ("dim_event", "event_id present and unique", 1),
    ("dim_event", "(event_name, event_date) present and unique", 2),
    ("dim_event", "event_id found in fact_transaction", 3),  # E2, E3, E3
    ("fact_transaction", "order_id present and unique", 1),
    ("fact_transaction", "customer_id found in dim_customer", 2),  # 3 and null
    ("fact_transaction", "event_id found in dim_event", 2),  # E9 and null
]


def broken_tables(spark, names=tuple(BROKEN)) -> dict:
    return {name: spark.createDataFrame(BROKEN[name][1], BROKEN[name][0]) for name in names}


def test_key_checks_count_each_broken_rule(spark):
    assert_rows(star_schema.key_checks(broken_tables(spark)), "table string, rule string, violations bigint",
                BROKEN_VIOLATIONS)


def test_key_checks_run_the_rules_of_the_tables_given(spark):
    tables = broken_tables(spark, ("dim_customer", "fact_transaction"))
    assert rows(star_schema.key_checks(tables)) == [
        ("dim_customer", "customer_id present and unique", 2),
        ("fact_transaction", "order_id present and unique", 1),
        ("fact_transaction", "customer_id found in dim_customer", 2)]


def test_the_model_of_the_hand_made_orders_holds(tickets, customers):
    tables = {"tickets_denormalized": star_schema.denormalized_rows(tickets, customers, 8),
              "dim_customer": star_schema.dim_customer(customers),
              "dim_event": star_schema.dim_event(tickets, 8),
              "fact_transaction": star_schema.fact_rows(tickets)}
    checked = rows(star_schema.key_checks(tables))
    assert [(table, rule) for table, rule, _ in checked] == [
        (c.table, c.rule) for c in star_schema.KEY_CHECKS]
    assert {violations for _, _, violations in checked} == {0}


def test_rows_per_key_counts_dimension_rows_without_facts_too(tickets, customers):
    fact = star_schema.fact_rows(tickets)
    # customer 1: O1, O3; customer 2: O2, O0, O5; customer 3: none
    assert_rows(star_schema.rows_per_key(fact, star_schema.dim_customer(customers), "customer_id"),
                "transactions bigint, rows bigint", [(0, 1), (2, 1), (3, 1)])
    # Harbour 2023: O1, O2; the final: O3, O0; Harbour 2024: O5
    assert rows(star_schema.rows_per_key(fact, star_schema.dim_event(tickets, 8), "event_id")) == [
        (1, 1), (2, 2)]
