"""08 and 09: the order-grain denormalized table and the star schema behind it
(``dim_customer``, ``dim_event``, ``fact_transaction``); docs/design.md, "The star schema".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib import columns as C
from lib.insights.events import EVENT_KEY, EVENT_ORDER, dim_event, event_facts
from lib.schema import CUSTOMER_COLUMNS

__all__ = [
    "DENORMALIZED_COLUMNS",
    "DENORMALIZED_ORDER",
    "DIM_CUSTOMER_ORDER",
    "DIM_EVENT_ORDER",
    "FACT_ORDER",
    "KEY_CHECKS",
    "STAR_TABLES",
    "KeyCheck",
    "KeyRule",
    "denormalized_rows",
    "dim_customer",
    "dim_event",
    "fact_rows",
    "fact_transaction",
    "in_denormalized_order",
    "key_checks",
    "key_violations",
    "rebuild_denormalized",
    "rows_per_key",
    "tickets_denormalized",
]

ORDER_COLUMNS = ("order_id", "purchase_ts", "quantity", "net_sales")
EVENT_COLUMNS = ("event_id", "event_name", "event_date", "venue", "season")
DENORMALIZED_COLUMNS = (*ORDER_COLUMNS, *EVENT_COLUMNS, *CUSTOMER_COLUMNS)
DENORMALIZED_ORDER = ("event_date", "purchase_ts", "order_id")
FACT_ORDER = ("purchase_ts", "order_id")
DIM_CUSTOMER_ORDER = ("customer_id",)
DIM_EVENT_ORDER = EVENT_ORDER


def _event_attributes(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """One row per event: id, natural key, venue (first clean order's), season."""
    return event_facts(tickets, season_start_month).select(*EVENT_COLUMNS)


def denormalized_rows(
    tickets: DataFrame, customers: DataFrame, season_start_month: int
) -> DataFrame:
    """08's rows (docs/contract.md §5.3), in no particular order: one row per
    clean order with its event's and its customer's attributes.

    ``venue`` is the event's venue (docs/contract.md §2.6: its first clean order's venue), so
    every order of an event shows the same one. Both joins are inner and lose
    nothing: every clean order has an event and a clean customer (staging
    rejects ``unknown_customer``). The event dimension is small: broadcast.
    """
    events = _event_attributes(tickets, season_start_month)
    return (
        tickets.select(*ORDER_COLUMNS, *EVENT_KEY, "customer_id")
        .join(F.broadcast(events), on=list(EVENT_KEY), how="inner")
        .join(customers.select(*CUSTOMER_COLUMNS), on="customer_id", how="inner")
        .select(*DENORMALIZED_COLUMNS)
    )


def tickets_denormalized(
    tickets: DataFrame, customers: DataFrame, season_start_month: int
) -> DataFrame:
    """08 (docs/contract.md §5.3): :func:`denormalized_rows` by event date,
    purchase time, order id."""
    return in_denormalized_order(denormalized_rows(tickets, customers, season_start_month))


def in_denormalized_order(rows: DataFrame) -> DataFrame:
    """08's rows by event date, purchase time, order id (docs/contract.md
    §5.3), sorted first on one key for the event date and the purchase second
    (:func:`C.date_time_sort_key`)."""
    key = C.date_time_sort_key(F.col("event_date"), F.col("purchase_ts"))
    return rows.orderBy(key, *DENORMALIZED_ORDER)


def dim_customer(customers: DataFrame) -> DataFrame:
    """09_dim_customer.csv (docs/contract.md §5.3): every clean customer
    (ordered or not), by id."""
    return customers.select(*CUSTOMER_COLUMNS).orderBy(*DIM_CUSTOMER_ORDER)


def fact_rows(tickets: DataFrame) -> DataFrame:
    """09's fact (docs/contract.md §5.3), in no particular order: one row per
    clean order with its foreign keys. ``event_id`` is computed from the
    order's own (event_name, event_date), the same function dim_event uses, so
    no join is needed to find it."""
    return tickets.select(
        "order_id",
        "customer_id",
        C.event_id(F.col("event_name"), F.col("event_date")).alias("event_id"),
        "purchase_ts",
        "quantity",
        "net_sales",
    )


def fact_transaction(tickets: DataFrame) -> DataFrame:
    """09_fact_transaction.csv (docs/contract.md §5.3): :func:`fact_rows` by
    purchase time then order id."""
    return fact_rows(tickets).orderBy(*FACT_ORDER)


def rebuild_denormalized(
    fact: DataFrame, customer_dim: DataFrame, event_dim: DataFrame
) -> DataFrame:
    """08 rebuilt from 09's three tables (fact joined to both dimensions)."""
    return (
        fact.join(F.broadcast(event_dim.select(*EVENT_COLUMNS)), on="event_id", how="inner")
        .join(customer_dim.select(*CUSTOMER_COLUMNS), on="customer_id", how="inner")
        .select(*DENORMALIZED_COLUMNS)
        .transform(in_denormalized_order)
    )


class KeyRule(Enum):
    UNIQUE = "present and unique"  # no null, no repeat
    FOUND_IN = "found in"  # every value is in the parent table's same columns


@dataclass(frozen=True)
class KeyCheck:
    """One integrity rule: ``columns`` of ``table`` present and unique, or
    found in ``parent``."""

    table: str
    columns: tuple[str, ...]
    parent: str | None = None  # the table FOUND_IN looks in

    @property
    def kind(self) -> KeyRule:
        return KeyRule.UNIQUE if self.parent is None else KeyRule.FOUND_IN

    @property
    def rule(self) -> str:
        """As the notebook and the data docs show it: ``customer_id found in dim_customer``."""
        named = self.columns[0] if len(self.columns) == 1 else f"({', '.join(self.columns)})"
        return f"{named} {self.kind.value}" + (f" {self.parent}" if self.parent else "")


STAR_TABLES = ("tickets_denormalized", "dim_customer", "dim_event", "fact_transaction")
# 08 refers to 09's dimensions; an event exists only through its orders, so
# every event is found in the fact too (dim_event ||--|{ fact_transaction)
KEY_CHECKS = (
    KeyCheck("tickets_denormalized", ("order_id",)),
    KeyCheck("tickets_denormalized", ("customer_id",), "dim_customer"),
    KeyCheck("tickets_denormalized", ("event_id",), "dim_event"),
    KeyCheck("dim_customer", ("customer_id",)),
    KeyCheck("dim_event", ("event_id",)),
    KeyCheck("dim_event", EVENT_KEY),
    KeyCheck("dim_event", ("event_id",), "fact_transaction"),
    KeyCheck("fact_transaction", ("order_id",)),
    KeyCheck("fact_transaction", ("customer_id",), "dim_customer"),
    KeyCheck("fact_transaction", ("event_id",), "dim_event"),
)


def key_violations(check: KeyCheck, tables: dict[str, DataFrame]) -> DataFrame:
    """One row, ``violations``: the rows of ``check.table`` that break
    ``check`` (a null key breaks either rule)."""
    keys = tables[check.table].select(*check.columns)
    if check.kind is KeyRule.UNIQUE:  # count(DISTINCT ...) skips nulls
        return keys.agg((F.count(F.lit(1)) - F.count_distinct(*map(F.col, check.columns)))
                        .alias("violations"))
    # the parent's distinct keys: a fact as parent (every event is found in
    # the fact) would otherwise be shuffled whole, one row per order, for a
    # few hundred keys (10M orders: 6.0 -> 1.1 s)
    parent = tables[check.parent].select(*check.columns).distinct()
    return keys.join(parent, on=list(check.columns), how="left_anti").agg(
        F.count(F.lit(1)).alias("violations"))


def key_checks(tables: dict[str, DataFrame]) -> DataFrame:
    """``table``, ``rule``, ``violations`` for each of :data:`KEY_CHECKS`
    whose tables are given (name -> table), in that order: all 0 when the
    model holds."""
    counted = [
        key_violations(check, tables).select(
            F.lit(n).alias("n"), F.lit(check.table).alias("table"),
            F.lit(check.rule).alias("rule"), "violations")
        for n, check in enumerate(KEY_CHECKS)
        if check.table in tables and (check.parent is None or check.parent in tables)
    ]
    return functools.reduce(DataFrame.unionByName, counted).orderBy("n").drop("n")


def rows_per_key(fact: DataFrame, dimension: DataFrame, key: str) -> DataFrame:
    """``transactions``, ``rows``: how many rows of ``dimension`` have that
    many fact rows on ``key``, none included, by number of transactions."""
    per_key = fact.groupBy(key).agg(F.count(F.lit(1)).alias("transactions"))
    return (
        dimension.select(key).join(per_key, on=key, how="left")
        .select(F.coalesce(F.col("transactions"), F.lit(0)).alias("transactions"))
        .groupBy("transactions").agg(F.count(F.lit(1)).alias("rows"))
        .orderBy("transactions")
    )
