"""Events: the (event_name, event_date) grain shared by 01, 08 and 09."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib import columns as C

EVENT_KEY = ("event_name", "event_date")
EVENT_ORDER = ("event_date", "event_name")  # the row order of 01 and 09_dim_event


def event_facts(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """One row per event with ≥1 clean order: id, venue of its first clean
    order in file order, season, and order/ticket/sales totals.

    Two steps so both are hash aggregations (``min_by`` over all orders would
    sort every order): first per (event, venue), which shrinks the orders to a
    few rows per event, then per event, where ``min_by`` picks the venue seen
    first.
    """
    per_venue = tickets.groupBy(*EVENT_KEY, "venue").agg(
        F.min("_row_seq").alias("first_seq"),
        F.count(F.lit(1)).alias("order_count"),
        F.sum("quantity").alias("tickets_sold"),
        F.sum("net_sales").alias("net_sales"),
    )
    return (
        per_venue.groupBy(*EVENT_KEY)
        .agg(
            F.min_by("venue", "first_seq").alias("venue"),
            F.sum("order_count").alias("order_count"),
            F.sum("tickets_sold").alias("tickets_sold"),
            F.sum("net_sales").cast(C.MONEY_SUM_TYPE).alias("net_sales"),
        )
        .select(
            C.event_id(F.col("event_name"), F.col("event_date")).alias("event_id"),
            *EVENT_KEY,
            "venue",
            C.season_label(F.col("event_date"), season_start_month).alias("season"),
            "order_count",
            "tickets_sold",
            "net_sales",
        )
    )


def events_summary(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """01_events.csv (docs/contract.md §5.3): events with order counts, by date then name."""
    return (
        event_facts(tickets, season_start_month)
        .select(
            "event_id",
            "event_name",
            "event_date",
            F.date_format("event_date", "EEE dd MMM yyyy").alias("event_date_display"),
            "venue",
            "season",
            "order_count",
            "tickets_sold",
            "net_sales",
        )
        .orderBy(*EVENT_ORDER)
    )


def dim_event(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """09_dim_event.csv (docs/contract.md §5.3): one row per event, by date then name."""
    return (
        event_facts(tickets, season_start_month)
        .select("event_id", "event_name", "event_date", "venue", "season")
        .orderBy(*EVENT_ORDER)
    )
