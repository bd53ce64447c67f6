"""00: data quality - what the cleaning kept, what it rejected and why."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame


def data_quality_summary(data_quality: DataFrame) -> DataFrame:
    """data_quality.csv (docs/contract.md §5.4): (dataset, outcome, rows) by dataset, outcome."""
    return data_quality.select("dataset", "outcome", "rows").orderBy("dataset", "outcome")


def in_file_order(rejected: DataFrame) -> DataFrame:
    """Rejects in file order, without the internal ``_row_seq``."""
    return rejected.orderBy("_row_seq").drop("_row_seq")


def reconciliation(outcomes: pd.DataFrame, raw_counts: dict[str, int]) -> pd.DataFrame:
    """Per dataset: raw records, clean, rejected, and whether they add up.

    Works on the small written summary (``data_quality.csv`` read back, one
    row per dataset and outcome) and the raw record counts the staging layer
    took while reading the inputs, so it costs no Spark job.
    """
    rows = outcomes.assign(
        clean_rows=outcomes["rows"].where(outcomes["outcome"] == "clean", 0),
        rejected_rows=outcomes["rows"].where(outcomes["outcome"] != "clean", 0),
    ).groupby("dataset")[["clean_rows", "rejected_rows"]].sum()
    raw = pd.DataFrame({"dataset": list(raw_counts), "raw_rows": list(raw_counts.values())})
    recon = raw.join(rows, on="dataset", how="left").fillna(0)
    recon = recon.astype({"raw_rows": "int64", "clean_rows": "int64", "rejected_rows": "int64"})
    recon["reconciles"] = recon["raw_rows"] == recon["clean_rows"] + recon["rejected_rows"]
    return recon.sort_values("dataset", ignore_index=True)
