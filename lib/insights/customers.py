"""Customers: who buys, how much, and which events (docs/contract.md §5: 02, 03, 04).

Every transform here aggregates the clean tickets to one row per customer
first (one shuffle, with map-side partial aggregation), and only then joins
the customers, so the join and anything after it handle one row per customer,
never one row per order.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib import columns as C

EVENTS_SEPARATOR = "; "


def _orders_per_customer(tickets: DataFrame) -> DataFrame:
    """One row per customer with >=1 clean order: tickets and orders."""
    return tickets.groupBy("customer_id").agg(
        F.sum("quantity").alias("tickets_sold"),
        F.count(F.lit(1)).alias("order_count"),
    )


def tickets_by_title(tickets: DataFrame, customers: DataFrame) -> DataFrame:
    """02_tickets_by_title.csv (docs/contract.md §5.3): one row per customer title among clean
    orders (the title of the ordering customer), by tickets sold desc, then title.

    ``customer_count`` is the distinct customers with that title who ordered.
    """
    titles = customers.select("customer_id", "customer_title")
    return (
        _orders_per_customer(tickets)
        # inner: every clean order's customer is a clean customer (docs/contract.md §2.2, rule 9)
        .join(titles, on="customer_id", how="inner")
        .groupBy("customer_title")
        .agg(
            F.sum("tickets_sold").alias("tickets_sold"),
            F.sum("order_count").alias("order_count"),
            F.count(F.lit(1)).alias("customer_count"),
        )
        .select("customer_title", "tickets_sold", "order_count", "customer_count")
        .orderBy(F.col("tickets_sold").desc(), F.col("customer_title").asc())
    )


def distinct_events_per_customer(tickets: DataFrame) -> DataFrame:
    """One row per customer with >=1 clean order: ``customer_id`` and ``events``,
    the array of the customer's distinct events as structs (event_date,
    event_name), sorted by event date, then name (code point order)."""
    event = F.struct("event_date", "event_name")
    return tickets.groupBy("customer_id").agg(
        F.array_sort(F.collect_set(event)).alias("events")
    )


def _event_label(event: Column) -> Column:
    """``event_name (yyyy-MM-dd)``, made formula-safe as a list item."""
    label = F.concat(
        event["event_name"], F.lit(" ("), F.date_format(event["event_date"], C.DATE_FORMAT), F.lit(")")
    )
    return C.escape_formula(label)


def customer_events(tickets: DataFrame, customers: DataFrame) -> DataFrame:
    """03_customer_events.csv (docs/contract.md §5.3): one row per customer with >=1 clean order,
    by customer_id: names, number of distinct events and the events list
    (``name (date)`` items joined by ``; ``, by event date then name)."""
    names = customers.select("customer_id", "first_name", "last_name")
    return (
        distinct_events_per_customer(tickets)
        .join(names, on="customer_id", how="inner")
        .select(
            "customer_id",
            "first_name",
            "last_name",
            F.size("events").alias("event_count"),
            F.array_join(F.transform("events", _event_label), EVENTS_SEPARATOR).alias("events"),
        )
        .orderBy("customer_id")
    )


def customers_multi_event(tickets: DataFrame, customers: DataFrame) -> DataFrame:
    """04_customers_multi_event.csv (docs/contract.md §5.3): one row per clean customer (also those
    who never ordered: event_count 0), by customer_id; ``MultiEvent`` is true
    exactly when the customer attended more than one distinct event."""
    counts = distinct_events_per_customer(tickets).select(
        "customer_id", F.size("events").alias("distinct_events")
    )
    event_count = F.coalesce(F.col("distinct_events"), F.lit(0))
    return (
        customers.select("customer_id", "customer_title", "first_name", "last_name")
        .join(counts, on="customer_id", how="left")
        .select(
            "customer_id",
            "customer_title",
            "first_name",
            "last_name",
            event_count.alias("event_count"),
            (event_count > 1).alias("MultiEvent"),
        )
        .orderBy("customer_id")
    )
