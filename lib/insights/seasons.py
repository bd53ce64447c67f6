"""10 and 11: sales by season, and each customer's purchaser status.

An order's season is the season of its event date (SPEC 3): seasons start on
the 1st of ``season_start_month``; a season is identified by the year it starts
in and labelled by :func:`lib.columns.season_label_of_year`.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib import columns as C

# Season totals are cast to this before the change is computed: it keeps Spark's
# decimal division at 16 decimal places, so rounding the percentage to 2 places
# is exact (no double rounding) for any season under 10^12 GBP.
_SEASON_MONEY = "decimal(18,2)"

CURRENT = "Current Ticket Purchaser"
PREVIOUS = "Previous Ticket Purchaser"
FUTURE = "Future Ticket Purchaser"


def _every_season_between(per_season: DataFrame) -> DataFrame:
    """One row per season start year from the first to the last in
    ``per_season`` (none when it is empty): a range built from two numbers."""
    bounds = per_season.agg(
        F.min("season_start_year").alias("first"), F.max("season_start_year").alias("last")
    )
    return bounds.select(
        F.explode(F.sequence("first", "last")).alias("season_start_year")
    )


def _change_pct(net_sales: Column, previous: Column) -> Column:
    """round((now - before) / before * 100, 2) half up; null when before is null or 0."""
    now = net_sales.cast(_SEASON_MONEY)
    before = previous.cast(_SEASON_MONEY)
    change = (now - before) * F.lit(100) / before
    return F.when(before != 0, F.round(change, 2).cast("decimal(38,2)"))


def net_sales_by_season(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """SPEC 10: one row per season from the first to the last season with
    sales (gaps as zeros), with the calendar-previous season's net sales and
    the change against it, by season.

    Rounding is Spark's HALF_UP: halves go away from zero (-12.345 -> -12.35).
    """
    season_year = C.season_start_year(F.col("event_date"), season_start_month)
    per_season = tickets.groupBy(season_year.alias("season_start_year")).agg(
        F.count(F.lit(1)).alias("order_count"),
        F.sum("quantity").alias("tickets_sold"),
        F.sum("net_sales").alias("net_sales"),
    )
    filled = _every_season_between(per_season).join(
        per_season, on="season_start_year", how="left"
    )
    net_sales = F.coalesce(F.col("net_sales"), F.lit(0).cast(_SEASON_MONEY))
    # A global window, but over one row per season (a few dozen at most).
    in_season_order = Window.orderBy("season_start_year")
    previous = F.lag(net_sales).over(in_season_order)
    return (
        filled.select(
            "season_start_year",
            F.coalesce(F.col("order_count"), F.lit(0)).alias("order_count"),
            F.coalesce(F.col("tickets_sold"), F.lit(0)).alias("tickets_sold"),
            net_sales.alias("net_sales"),
            previous.alias("previous_season_net_sales"),
        )
        .select(
            C.season_label_of_year(F.col("season_start_year"), season_start_month).alias("season"),
            "order_count",
            "tickets_sold",
            "net_sales",
            "previous_season_net_sales",
            _change_pct(F.col("net_sales"), F.col("previous_season_net_sales")).alias(
                "net_sales_change_pct"
            ),
            "season_start_year",
        )
        .orderBy("season_start_year")
        .drop("season_start_year")
    )


def _latest_event_per_customer(tickets: DataFrame) -> DataFrame:
    """(customer_id, event_name, event_date) of each customer's latest event:
    greatest event_date, ties by event_name ascending (code-point order).

    One aggregate instead of a window: the smallest (-day number, name) pair is
    the latest date with the first name, and partial aggregation keeps the
    shuffle at about one row per customer per partition.
    """
    latest = F.min(
        F.struct(
            (-F.unix_date("event_date")).alias("minus_day"),
            F.col("event_name").alias("event_name"),
            F.col("event_date").alias("event_date"),
        )
    )
    return tickets.groupBy("customer_id").agg(latest.alias("latest")).select(
        "customer_id", "latest.event_name", "latest.event_date"
    )


def purchaser_status(
    tickets: DataFrame, as_of_date: dt.date, season_start_month: int
) -> DataFrame:
    """SPEC 11: one row per customer with ≥1 clean order: their latest event,
    its season, the current season (holding ``as_of_date``) and whether the
    latest event's season is the current one, earlier, or later. By customer_id.

    Seasons are compared by start year, not by label text.
    """
    as_of = F.lit(as_of_date).cast("date")
    current_year = C.season_start_year(as_of, season_start_month)
    latest_year = C.season_start_year(F.col("event_date"), season_start_month)
    status = (
        F.when(latest_year == current_year, F.lit(CURRENT))
        .when(latest_year < current_year, F.lit(PREVIOUS))
        .otherwise(F.lit(FUTURE))
    )
    return (
        _latest_event_per_customer(tickets)
        .select(
            "customer_id",
            F.col("event_name").alias("latest_event_name"),
            F.col("event_date").alias("latest_event_date"),
            C.season_label(F.col("event_date"), season_start_month).alias("latest_event_season"),
            C.season_label(as_of, season_start_month).alias("current_season"),
            status.alias("purchaser_status"),
        )
        .orderBy("customer_id")
    )
