"""Small helpers for hand-written test data, DataFrame equality checks (types
included) and the CSV files of an output folder."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from decimal import Decimal
from pathlib import Path

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


# The columns and Spark types of each output, in order (docs/contract.md §5.3:
# money has two decimal places, integers are int or bigint). 08's and 09's
# tables are typed in the contract itself (§5.6): contract_schema.
SCHEMAS = {
    "01": "event_id string, event_name string, event_date date, event_date_display string, "
          "venue string, season string, order_count bigint, tickets_sold bigint, "
          "net_sales decimal(28,2)",
    "02": "customer_title string, tickets_sold bigint, order_count bigint, customer_count bigint",
    "03": "customer_id bigint, first_name string, last_name string, event_count int, events string",
    "04": "customer_id bigint, customer_title string, first_name string, last_name string, "
          "event_count int, MultiEvent boolean",
    "05": "customer_id bigint, order_id string, event_name string, event_date date, "
          "purchase_ts timestamp, quantity int, net_sales decimal(18,2)",
    "07": "customer_id bigint, order_id string, purchase_ts timestamp, event_name string, "
          "event_date date, quantity int, previous_quantity int, quantity_delta int",
    "10": "season string, order_count bigint, tickets_sold bigint, net_sales decimal(18,2), "
          "previous_season_net_sales decimal(18,2), net_sales_change_pct decimal(38,2)",
    "11": "customer_id bigint, latest_event_name string, latest_event_date date, "
          "latest_event_season string, current_season string, purchaser_status string",
}
SCHEMAS["06"] = SCHEMAS["05"]


def contract_schema(table: str) -> str:
    """A SQL table's columns and types as docs/contract.md §5.6 lists them."""
    from lib.suite.datadocs import contract_dictionary

    return ", ".join(f"{name} {kind}" for name, kind, _ in contract_dictionary()[table])


def columns_of(schema: str) -> list[tuple[str, str]]:
    """``"a string, b decimal(18,2)"`` as ``[("a", "string"), ("b", "decimal(18,2)")]``,
    the shape of ``DataFrame.dtypes``."""
    fields = re.split(r",\s*(?![^()]*\))", schema.strip())
    return [tuple(field.split(None, 1)) for field in fields if field]


def assert_rows(df: DataFrame, expected_schema: str, expected_rows: list[tuple]) -> None:
    """Column names and Spark types exactly (``expected_schema`` as DDL, e.g.
    ``"season string, net_sales decimal(18,2)"``), then rows exactly and in order."""
    assert df.dtypes == columns_of(expected_schema)
    assert rows(df) == expected_rows


def event_id(name: str, date: str) -> str:
    """The stable event_id (docs/contract.md §6.3), worked out independently of Spark."""
    return "EV-" + hashlib.sha256(f"{name}|{date}".encode()).hexdigest()[:12]


def output_csvs(out: Path) -> dict[str, bytes]:
    """The CSVs an output folder holds by the contract (top level and rejects/),
    by relative path; hidden scratch files left out."""
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted([*out.glob("*.csv"), *out.glob("rejects/*.csv")])
            if not p.name.startswith(".")}


def csv_records(path: Path) -> list[dict]:
    """A CSV file's rows as dicts keyed by its header."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


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
