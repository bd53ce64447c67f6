"""Small helpers for hand-written test data and DataFrame equality checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import DataFrame


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def money(text: str) -> Decimal:
    return Decimal(text)


def rows(df: DataFrame) -> list[tuple]:
    """All rows as plain tuples, in the DataFrame's own order."""
    return [tuple(row) for row in df.collect()]


def assert_rows(df: DataFrame, expected_columns: list[str], expected_rows: list[tuple]) -> None:
    """Columns exactly, then rows exactly and in order."""
    assert df.columns == expected_columns
    assert rows(df) == expected_rows


def tickets_df(spark, records: list[tuple]):
    """Clean tickets as staging produces them, from
    (row_seq, order_id, customer_id, event_name, event_date, venue, purchase_ts, quantity, net_sales)
    with dates/timestamps/money given as strings."""
    typed = [
        (seq, oid, cid, name, d(edate), venue, ts(pts), qty, money(ns))
        for seq, oid, cid, name, edate, venue, pts, qty, ns in records
    ]
    return spark.createDataFrame(
        typed,
        "_row_seq long, order_id string, customer_id long, event_name string, event_date date, "
        "venue string, purchase_ts timestamp, quantity int, net_sales decimal(18,2)",
    )


def customers_df(spark, records: list[tuple]):
    """Clean customers: (row_seq, customer_id, title, first, last, email, phone, postcode)."""
    return spark.createDataFrame(
        records,
        "_row_seq long, customer_id long, customer_title string, first_name string, "
        "last_name string, email string, phone string, postcode string",
    )
