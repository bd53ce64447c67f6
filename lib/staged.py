"""Run the staging layer once per version of the inputs and keep it as parquet.

The folder ``<output>/_staging/<fingerprint>`` holds the classified customers
and tickets. The fingerprint covers each input's path, size and modification
time and the cleaning code itself, so a changed input or rule re-cleans and an
unchanged one is reused. A file lock makes concurrent notebooks wait for one
builder instead of all building; the folder is renamed into place only when
complete, so nobody reads a half-written copy.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib import cleaning
from lib.config import Params
from lib.fileio import file_lock, remove_scratch, replacing_dir
from lib.readers import (
    check_input_files,
    read_raw_customers,
    read_ticket_lines,
    require_file,
)

_CODE_FILES = ("readers.py", "columns.py", "cleaning.py", "staged.py")
_COMPLETE = "_COMPLETE"


@dataclass(frozen=True)
class Staged:
    """Clean inputs and their rejects, all read from the staged parquet."""

    tickets: DataFrame
    customers: DataFrame
    tickets_rejected: DataFrame
    customers_rejected: DataFrame
    data_quality: DataFrame


def fingerprint(params: Params) -> str:
    digest = hashlib.sha256()
    for path in (params.tickets_path, params.customers_path):
        info = path.stat()
        digest.update(f"{path}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    for name in _CODE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:20]


def _locked(root: Path):
    return file_lock(root / ".lock")


def _build(spark: SparkSession, params: Params, target: Path) -> None:
    """customers, then tickets by row (one scan of the text), then the small
    list of repeated order ids found in the written parquet."""
    customers_path = str(target / "customers")
    raw_customers = read_raw_customers(spark, params.customers_path)
    cleaning.classify_customers(raw_customers).write.parquet(customers_path)
    clean_ids = spark.read.parquet(customers_path).where(
        F.col("reject_reason").isNull()
    ).select("customer_id")
    lines = read_ticket_lines(spark, params.tickets_path)
    cleaning.classify_tickets_by_row(lines, clean_ids).write.parquet(str(target / "tickets"))
    by_row = spark.read.parquet(str(target / "tickets"))
    cleaning.repeated_order_rows(by_row).write.parquet(str(target / "repeated_orders"))
    (target / _COMPLETE).write_text("ok\n")


def ensure_staged(spark: SparkSession, params: Params) -> Path:
    """Path of the staged parquet for the current inputs, building it if needed."""
    params_fp = fingerprint_or_raise(params)
    root = params.staging_dir
    target = root / params_fp
    if not (target / _COMPLETE).exists():
        # not staged yet: every file-level check before the lock and any Spark job
        check_input_files(params.tickets_path, params.customers_path)
    with _locked(root):
        if not (target / _COMPLETE).exists():
            with replacing_dir(target) as scratch:
                _build(spark, params, scratch)
        for stale in root.iterdir():  # older versions and crashed builds
            if stale.is_dir() and stale.name != params_fp:
                shutil.rmtree(stale, ignore_errors=True)
    return target


def is_staged(params: Params) -> bool:
    """True when the current inputs are already cleaned and stored."""
    return (params.staging_dir / fingerprint_or_raise(params) / _COMPLETE).exists()


def remove_stale_builds(params: Params) -> None:
    """Drop half-built staging folders a killed run left (waits for a build
    in progress to finish first)."""
    root = params.staging_dir
    if root.is_dir():
        with _locked(root):
            remove_scratch(root)


def fingerprint_or_raise(params: Params) -> str:
    for path in (params.customers_path, params.tickets_path):
        require_file(path)
    return fingerprint(params)


def load_staged(spark: SparkSession, params: Params) -> Staged:
    folder = ensure_staged(spark, params)
    customers = spark.read.parquet(str(folder / "customers"))
    tickets = spark.read.parquet(str(folder / "tickets")).transform(
        cleaning.with_repeated_orders_rejected,
        spark.read.parquet(str(folder / "repeated_orders")),
    )
    data_quality = cleaning.outcome_counts(customers, "customers").unionByName(
        cleaning.outcome_counts(tickets, "tickets")
    )
    return Staged(
        tickets=cleaning.clean_rows(tickets, cleaning.CLEAN_TICKET_COLUMNS),
        customers=cleaning.clean_rows(customers, cleaning.CLEAN_CUSTOMER_COLUMNS),
        tickets_rejected=cleaning.rejected_tickets(tickets),
        customers_rejected=cleaning.rejected_customers(customers),
        data_quality=data_quality,
    )
