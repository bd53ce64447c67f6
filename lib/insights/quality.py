"""00: data quality - what the cleaning kept, what it rejected and why."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def data_quality_summary(data_quality: DataFrame) -> DataFrame:
    """data_quality.csv (docs/contract.md §5.4): (dataset, outcome, rows) by dataset, outcome."""
    return data_quality.select("dataset", "outcome", "rows").orderBy("dataset", "outcome")


def in_file_order(rejected: DataFrame) -> DataFrame:
    """Rejects in file order, without the internal ``_row_seq``."""
    return rejected.orderBy("_row_seq").drop("_row_seq")


def reconciliation(data_quality: DataFrame, raw_counts: dict[str, int]) -> DataFrame:
    """Per dataset: raw records, clean, rejected, and whether they add up."""
    spark = data_quality.sparkSession
    raw = spark.createDataFrame(list(raw_counts.items()), "dataset string, raw_rows long")
    is_clean = F.col("outcome") == "clean"
    totals = data_quality.groupBy("dataset").agg(
        F.sum(F.when(is_clean, F.col("rows")).otherwise(0)).alias("clean_rows"),
        F.sum(F.when(~is_clean, F.col("rows")).otherwise(0)).alias("rejected_rows"),
    )
    return (
        raw.join(totals, on="dataset", how="left")
        .fillna(0, subset=["clean_rows", "rejected_rows"])
        .withColumn("reconciles", F.col("raw_rows") == F.col("clean_rows") + F.col("rejected_rows"))
        .orderBy("dataset")
    )
