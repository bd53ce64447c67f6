"""Grain, keys and totals of outputs 01-07 (docs/contract.md §5) on the pinned generated data.

The transforms are computed directly on the staged pinned data (no notebook
runs): each output has the contract's columns, one row per contract grain (unique,
non-null keys), the contract's row order, and totals that reconcile with the clean
orders and with each other.
"""

from __future__ import annotations

import pytest
from helpers import SCHEMAS, columns_of
from pyspark.sql import functions as F

from lib.config import make_params
from lib.insights import customers as CU
from lib.insights import events as EV
from lib.insights import orders as O
from lib.staged import load_staged
from lib.suite.pinned import PARAMETERS, make_pinned_data

SEASON_START_MONTH = PARAMETERS["season_start_month"]


@pytest.fixture(scope="module")
def staged(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("grain")
    params = make_params(
        make_pinned_data(root / "data"), root / "output",
        PARAMETERS["as_of_date"], SEASON_START_MONTH,
    )
    return load_staged(spark, params)


@pytest.fixture(scope="module")
def outputs(staged):
    t, c = staged.tickets, staged.customers
    return {
        "01": EV.events_summary(t, SEASON_START_MONTH).cache(),
        "02": CU.tickets_by_title(t, c).cache(),
        "03": CU.customer_events(t, c).cache(),
        "04": CU.customers_multi_event(t, c).cache(),
        "05": O.largest_order(t).cache(),
        "06": O.second_largest_order(t).cache(),
        "07": O.order_quantity_delta(t).cache(),
    }


@pytest.fixture(scope="module")
def clean(staged):
    """Reference numbers straight from the clean data."""
    t = staged.tickets
    totals = t.agg(
        F.count(F.lit(1)).alias("orders"),
        F.sum("quantity").alias("tickets"),
        F.sum("net_sales").alias("net_sales"),
        F.countDistinct("customer_id").alias("buyers"),
        F.countDistinct("event_name", "event_date").alias("events"),
    ).first()
    per_customer = t.groupBy("customer_id").count()
    return {
        "orders": totals["orders"],
        "tickets": totals["tickets"],
        "net_sales": totals["net_sales"],
        "buyers": totals["buyers"],
        "events": totals["events"],
        "customers": staged.customers.count(),
        "repeat_buyers": per_customer.where("count >= 2").count(),
    }


CONTRACT = {
    # file: (grain key, row order as (column, descending)); columns and types: helpers.SCHEMAS
    "01": (["event_name", "event_date"], [("event_date", False), ("event_name", False)]),
    "02": (["customer_title"], [("tickets_sold", True), ("customer_title", False)]),
    "03": (["customer_id"], [("customer_id", False)]),
    "04": (["customer_id"], [("customer_id", False)]),
    "05": (["customer_id"], [("customer_id", False)]),
    "06": (["customer_id"], [("customer_id", False)]),
    "07": (["order_id"], [("customer_id", False), ("purchase_ts", False), ("order_id", False)]),
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_columns_types_unique_not_null_keys_and_row_order(outputs, name):
    key, order = CONTRACT[name]
    df = outputs[name]
    assert df.dtypes == columns_of(SCHEMAS[name])
    assert df.where(" OR ".join(f"{k} IS NULL" for k in key)).count() == 0
    assert df.groupBy(*key).count().where("count > 1").count() == 0
    collected = [tuple(row[c] for c, _ in order) for row in df.collect()]
    expected = collected
    for position in reversed(range(len(order))):  # stable sort, last key first
        expected = sorted(expected, key=lambda r, p=position: r[p], reverse=order[position][1])
    assert collected == expected


def test_01_event_ids_unique_and_totals_match_clean_orders(outputs, clean):
    events = outputs["01"]
    assert events.count() == clean["events"]
    assert events.select("event_id").distinct().count() == clean["events"]
    sums = events.agg(F.sum("order_count"), F.sum("tickets_sold"), F.sum("net_sales")).first()
    assert tuple(sums) == (clean["orders"], clean["tickets"], clean["net_sales"])


def test_02_totals_match_01_and_clean_orders(outputs, clean):
    sums = outputs["02"].agg(
        F.sum("tickets_sold"), F.sum("order_count"), F.sum("customer_count")
    ).first()
    tickets_01 = outputs["01"].agg(F.sum("tickets_sold")).first()[0]
    assert sums[0] == clean["tickets"] == tickets_01
    assert tuple(sums)[1:] == (clean["orders"], clean["buyers"])


def test_03_and_04_customer_grains_and_event_counts_agree(outputs, clean):
    per_buyer, every_customer = outputs["03"], outputs["04"]
    assert per_buyer.count() == clean["buyers"]
    assert every_customer.count() == clean["customers"]
    assert clean["customers"] > clean["buyers"]  # the generator adds customers who never ordered
    assert per_buyer.where("event_count < 1").count() == 0
    # 04 agrees with 03 for buyers, and has 0/false for everyone else
    joined = every_customer.join(
        per_buyer.select("customer_id", F.col("event_count").alias("count_03")),
        on="customer_id", how="left",
    )
    assert joined.where(F.coalesce("count_03", F.lit(0)) != F.col("event_count")).count() == 0
    assert joined.where(F.col("MultiEvent") != (F.col("event_count") > 1)).count() == 0
    assert joined.where("count_03 IS NULL AND (event_count != 0 OR MultiEvent)").count() == 0
    # each list holds event_count items
    items = F.size(F.split("events", "; "))
    assert per_buyer.where(items != F.col("event_count")).count() == 0


def test_05_06_one_row_per_buyer_and_repeat_buyer(outputs, clean):
    largest, second = outputs["05"], outputs["06"]
    assert largest.count() == clean["buyers"]
    assert second.count() == clean["repeat_buyers"]
    pairs = second.alias("s").join(largest.alias("l"), on="customer_id", how="inner")
    assert pairs.count() == clean["repeat_buyers"]
    assert pairs.where("s.order_id = l.order_id OR s.quantity > l.quantity").count() == 0


def test_07_one_row_per_order_first_order_has_no_previous(outputs, clean):
    deltas = outputs["07"]
    assert deltas.count() == clean["orders"]
    assert deltas.where("previous_quantity IS NULL").count() == clean["buyers"]
    assert deltas.where(
        "(previous_quantity IS NULL) != (quantity_delta IS NULL) "
        "OR quantity_delta != quantity - previous_quantity"
    ).count() == 0
