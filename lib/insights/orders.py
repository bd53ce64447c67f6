"""Orders within a customer: largest orders and order-to-order change
(docs/contract.md §5: 05, 06, 07).

Windows are always partitioned by ``customer_id``: each customer's orders are
ranked or compared among themselves, never across the whole data set.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

RANKED_ORDER_COLUMNS = (
    "customer_id", "order_id", "event_name", "event_date", "purchase_ts", "quantity", "net_sales",
)
DELTA_COLUMNS = (
    "customer_id", "order_id", "purchase_ts", "event_name", "event_date",
    "quantity", "previous_quantity", "quantity_delta",
)

# 07 (docs/contract.md §5.5): a customer's orders in the order they were placed.
PURCHASE_ORDER = ("purchase_ts", "order_id")


def order_of_rank(tickets: DataFrame, rank: int) -> DataFrame:
    """Each customer's order of size rank ``rank`` (1 = largest), one row per
    customer with >= ``rank`` clean orders, by customer_id.

    Filtering ``row_number() == rank`` lets Spark keep only the top ``rank``
    orders per customer before the shuffle (window group limit).
    """
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    # 05/06 (docs/contract.md §5.5): quantity desc, then the earlier purchase, then the smaller
    # order_id, so each order of a customer has its own rank, even on equal quantities.
    by_size = Window.partitionBy("customer_id").orderBy(
        F.col("quantity").desc(), F.col("purchase_ts").asc(), F.col("order_id").asc()
    )
    return (
        tickets.select(*RANKED_ORDER_COLUMNS)
        .withColumn("_size_rank", F.row_number().over(by_size))
        .where(F.col("_size_rank") == rank)
        .select(*RANKED_ORDER_COLUMNS)
        .orderBy("customer_id")
    )


def largest_order(tickets: DataFrame) -> DataFrame:
    """05_largest_order.csv (docs/contract.md §5.3): one row per customer with >=1 clean order."""
    return order_of_rank(tickets, 1)


def second_largest_order(tickets: DataFrame) -> DataFrame:
    """06_second_largest_order.csv (docs/contract.md §5.3): one row per customer
    with >=2 clean orders."""
    return order_of_rank(tickets, 2)


def order_quantity_delta(tickets: DataFrame) -> DataFrame:
    """07_order_quantity_delta.csv (docs/contract.md §5.3): one row per clean order with the
    quantity of the customer's previous order and the change; both null on a
    customer's first order. By customer_id, purchase_ts, order_id.

    Range-partitioning by customer_id once serves both the window (each
    customer's orders in one partition) and the final order (partitions hold
    ascending customer ranges), so the orders are shuffled only once.
    """
    in_purchase_order = Window.partitionBy("customer_id").orderBy(*PURCHASE_ORDER)
    previous_quantity = F.lag("quantity").over(in_purchase_order)
    return (
        tickets.select(
            "customer_id", "order_id", "purchase_ts", "event_name", "event_date", "quantity"
        )
        .repartitionByRange("customer_id")
        .withColumn("previous_quantity", previous_quantity)
        .withColumn("quantity_delta", F.col("quantity") - F.col("previous_quantity"))
        .select(*DELTA_COLUMNS)
        .orderBy("customer_id", *PURCHASE_ORDER)
    )
