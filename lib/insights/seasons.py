"""10 and 11: sales by season, and each customer's purchaser status.

An order's season is the season of its event date (docs/contract.md §3): seasons start on
the 1st of ``season_start_month``; a season is identified by the year it starts
in and labelled by :func:`lib.columns.season_label_of_year`.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib import columns as C

# Season totals are cast to this before the change is computed: Spark then
# divides to 15 decimal places (decimal(38,15)), so rounding the percentage to 2
# places is exact (no double rounding) for any season under 10^11 GBP.
_SEASON_MONEY = "decimal(18,2)"

CURRENT = "Current Ticket Purchaser"
PREVIOUS = "Previous Ticket Purchaser"
FUTURE = "Future Ticket Purchaser"


def _change_pct(net_sales: Column, previous: Column) -> Column:
    """round((now - before) / before * 100, 2) half up; null when before is null or 0."""
    now, before = net_sales.cast(_SEASON_MONEY), previous.cast(_SEASON_MONEY)
    change = (now - before) * F.lit(100) / before
    return F.when(before != 0, F.round(change, 2).cast("decimal(38,2)"))


def net_sales_by_season(tickets: DataFrame, season_start_month: int) -> DataFrame:
    """10 (docs/contract.md §5.5): one row per season from the first to the last season with
    sales (gaps as zeros), with the calendar-previous season's net sales and
    the change against it, by season.

    The orders are read once: one aggregate per season, then the (few) seasons
    gathered into a single row as a map start year -> totals, from which every
    season between the first and the last, and the season before each, is
    looked up. Rounding is Spark's HALF_UP: halves go away from zero.
    """
    season_year = C.season_start_year(F.col("event_date"), season_start_month)
    per_season = tickets.groupBy(season_year.alias("year")).agg(
        F.count(F.lit(1)).alias("order_count"),
        F.sum("quantity").alias("tickets_sold"),
        F.sum("net_sales").cast(_SEASON_MONEY).alias("net_sales"),
    )
    totals = F.struct("order_count", "tickets_sold", "net_sales")
    all_seasons = per_season.agg(
        F.min("year").alias("first"),
        F.max("year").alias("last"),
        F.map_from_entries(F.collect_list(F.struct("year", totals))).alias("by_year"),
    )
    this = F.try_element_at(F.col("by_year"), F.col("year"))
    before = F.try_element_at(F.col("by_year"), F.col("year") - 1)
    zero_money = F.lit(0).cast(_SEASON_MONEY)
    previous = F.when(
        F.col("year") > F.col("first"), F.coalesce(before["net_sales"], zero_money)
    )
    return (
        all_seasons.select(  # no sales at all: sequence(null, null) explodes to no rows
            F.explode(F.sequence("first", "last")).alias("year"), "first", "by_year"
        )
        .select(
            "year",
            F.coalesce(this["order_count"], F.lit(0)).alias("order_count"),
            F.coalesce(this["tickets_sold"], F.lit(0)).alias("tickets_sold"),
            F.coalesce(this["net_sales"], zero_money).alias("net_sales"),
            previous.alias("previous_season_net_sales"),
        )
        .select(
            C.season_label_of_year(F.col("year"), season_start_month).alias("season"),
            "order_count",
            "tickets_sold",
            "net_sales",
            "previous_season_net_sales",
            _change_pct(F.col("net_sales"), F.col("previous_season_net_sales")).alias(
                "net_sales_change_pct"
            ),
            "year",
        )
        .orderBy("year")
        .drop("year")
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
    """11 (docs/contract.md §5.5): one row per customer with ≥1 clean order: their latest event,
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
