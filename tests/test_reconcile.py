"""On generated dirty data: nothing is lost, every reject reason occurs, and
the staged parquet is reused while inputs are unchanged."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from pyspark.sql import functions as F

from lib.cleaning import CUSTOMER_PURCHASE_ORDER
from lib.config import make_params
from lib.insights.quality import reconciliation
from lib.readers import read_raw_customers, read_raw_tickets
from lib.staged import CLEAN_TICKETS, ensure_staged, load_staged
from lib.suite.pinned import make_pinned_data

TICKET_REASONS = {
    "malformed_row", "missing_order_id", "invalid_customer_id", "missing_event_name",
    "invalid_event_date", "invalid_purchase_ts", "invalid_quantity", "invalid_net_sales",
    "unknown_customer", "duplicate_order_id",
}
CUSTOMER_REASONS = {"malformed_json", "invalid_customer_id", "duplicate_customer_id"}


def raw_record_counts(spark, tickets, customers) -> dict[str, int]:
    """Records in each input as read (non-blank lines / array elements), by an
    independent pass over the raw files (00 uses the counts staging keeps)."""
    return {"customers": read_raw_customers(spark, customers).count(),
            "tickets": read_raw_tickets(spark, tickets).count()}


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("reconcile")
    params = make_params(make_pinned_data(root / "data"), root / "output")
    return params, load_staged(spark, params)


def test_raw_equals_clean_plus_rejected(spark, generated):
    params, staged = generated
    raw = raw_record_counts(spark, params.tickets_path, params.customers_path)
    assert staged.raw_counts == raw  # what 00 reconciles against, counted while staging
    assert raw["tickets"] == staged.tickets.count() + staged.tickets_rejected.count()
    assert raw["customers"] == staged.customers.count() + staged.customers_rejected.count()
    totals = {r.dataset: r.rows for r in staged.data_quality.groupBy("dataset").agg(
        F.sum("rows").alias("rows")).collect()}
    assert totals == raw


def test_every_reject_reason_occurs(generated):
    _, staged = generated
    outcomes = {(r.dataset, r.outcome) for r in staged.data_quality.collect()}
    assert {o for d, o in outcomes if d == "tickets"} == TICKET_REASONS | {"clean"}
    assert {o for d, o in outcomes if d == "customers"} == CUSTOMER_REASONS | {"clean"}


def test_clean_keys_are_unique_and_resolve(generated):
    _, staged = generated
    assert staged.tickets.groupBy("order_id").count().where("count > 1").isEmpty()
    assert staged.customers.groupBy("customer_id").count().where("count > 1").isEmpty()
    orphans = staged.tickets.join(staged.customers, on="customer_id", how="left_anti")
    assert orphans.isEmpty()


def test_clean_orders_are_stored_by_customer_in_purchase_order(generated):
    """The layout the per-customer insights are fast on: the part files, in
    their numbered order, hold each customer's orders together and in the order
    they were placed."""
    _, staged = generated
    parts = sorted((staged.folder / CLEAN_TICKETS).glob("part-*.parquet"))
    stored = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    assert parts and len(stored) == staged.tickets.count()
    keys = stored[list(CUSTOMER_PURCHASE_ORDER)]
    assert keys.equals(keys.sort_values(list(CUSTOMER_PURCHASE_ORDER), ignore_index=True))


def test_staged_data_is_reused_until_an_input_changes(spark, generated):
    params, _ = generated
    first = ensure_staged(spark, params)
    marker = (first / "_COMPLETE").stat().st_mtime_ns
    assert ensure_staged(spark, params) == first
    assert (first / "_COMPLETE").stat().st_mtime_ns == marker
    info = params.tickets_path.stat()
    os.utime(params.tickets_path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    second = ensure_staged(spark, params)
    assert second != first and not first.exists()  # the stale version is removed


def test_reconciliation_adds_clean_and_rejected_per_dataset():
    outcomes = pd.DataFrame({"dataset": ["customers", "tickets", "tickets"],
                             "outcome": ["clean", "clean", "malformed_row"], "rows": [3, 5, 2]})
    recon = reconciliation(outcomes, {"tickets": 7, "customers": 4})
    assert recon.to_dict("records") == [
        {"dataset": "customers", "raw_rows": 4, "clean_rows": 3, "rejected_rows": 0,
         "reconciles": False},  # one customer record lost: must show
        {"dataset": "tickets", "raw_rows": 7, "clean_rows": 5, "rejected_rows": 2,
         "reconciles": True},
    ]


def test_reconciliation_of_a_dataset_with_no_outcome_rows():
    outcomes = pd.DataFrame({"dataset": ["tickets"], "outcome": ["clean"], "rows": [1]})
    recon = reconciliation(outcomes, {"tickets": 1, "customers": 0})
    assert recon[["dataset", "clean_rows", "reconciles"]].values.tolist() == [
        ["customers", 0, True], ["tickets", 1, True]]
