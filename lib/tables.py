"""Spark SQL tables of 08 and 09, persisted as parquet under ``<output>/warehouse``
and registered as temporary views in any session (docs/design.md, "Files
written atomically, and file locks").
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lib.config import Params, make_params
from lib.fileio import file_lock, publish_dir, restore_retired, scratch_path

TABLE_NAMES = ("tickets_denormalized", "dim_customer", "dim_event", "fact_transaction")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\Z")
_LOCK = ".lock"


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"table name must be lower-case letters, digits and _, got {name!r}")
    return name


@contextmanager
def _locked(warehouse: Path):
    with file_lock(warehouse / _LOCK):
        # a save killed between its two renames left the old table aside
        restore_retired(warehouse, _NAME_RE.match)
        yield


def recover(warehouse_dir: str | os.PathLike) -> None:
    """Make the warehouse whole after a killed run: every table is its old
    or its new complete version. Scratch folders (``.*.tmp``) are left to the
    runner, which alone knows no save is in progress."""
    if Path(warehouse_dir).is_dir():
        with _locked(Path(warehouse_dir)):
            pass


def table_path(warehouse_dir: str | os.PathLike, name: str) -> Path:
    return Path(warehouse_dir) / _check_name(name)


def save_table(df: DataFrame, params: Params, name: str) -> Path:
    """Persist ``df`` as the table ``name`` (replacing any older copy) and
    register it as a view in ``df``'s session. Returns the table's folder."""
    warehouse = params.warehouse_dir
    target = table_path(warehouse, name)
    scratch = scratch_path(target)
    try:
        df.write.parquet(str(scratch))
        with _locked(warehouse):
            publish_dir(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _register(df.sparkSession, target, name)
    return target


def list_tables(warehouse_dir: str | os.PathLike) -> list[str]:
    """Names of the tables persisted under ``warehouse_dir``, sorted."""
    folder = Path(warehouse_dir)
    if not folder.is_dir():
        return []
    with _locked(folder):
        return sorted(
            entry.name for entry in folder.iterdir()
            if entry.is_dir() and _NAME_RE.match(entry.name)
        )


def _register(spark: SparkSession, path: Path, name: str) -> None:
    spark.read.parquet(str(path)).createOrReplaceTempView(name)


def register_tables(spark: SparkSession, warehouse_dir: str | os.PathLike) -> list[str]:
    """Register every persisted table as a temporary view of ``spark``;
    returns the names registered."""
    names = list_tables(warehouse_dir)
    for name in names:
        _register(spark, table_path(warehouse_dir, name), name)
    return names


def warehouse_of(output_dir: str | os.PathLike) -> Path:
    """The warehouse folder of an output folder; a relative ``output_dir`` is
    taken from the project root, exactly as the notebooks take it."""
    return make_params(output_dir=output_dir).warehouse_dir


def open_session(output_dir: str | os.PathLike = "output") -> SparkSession:
    """A Spark session (:func:`lib.session.get_spark`) with every table
    persisted under ``output_dir`` registered, ready for ``spark.sql``."""
    from lib.session import get_spark

    warehouse = warehouse_of(output_dir)
    spark = get_spark("ticket-insights-sql")
    register_tables(spark, warehouse)
    return spark
