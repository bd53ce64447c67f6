"""Write a DataFrame as one SPEC-formatted CSV file, atomically.

Spark writes a single part file into a hidden scratch folder next to the
target; the part file is then renamed over the target (same file system, so
the rename is atomic): a crash leaves the old file or the new one, never half.
Large outputs stream through one Spark task, not through the driver's memory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib import columns as C

CSV_OPTIONS = {
    "header": "true",
    "sep": ",",
    "quote": '"',
    "escape": '"',  # RFC 4180: a quote inside a field is doubled
    "nullValue": "",
    "emptyValue": "",
    "ignoreLeadingWhiteSpace": "false",  # Spark trims on write by default
    "ignoreTrailingWhiteSpace": "false",
    "lineSep": "\n",
    "encoding": "UTF-8",
}


def _as_text(column: str, data_type: T.DataType) -> Column:
    col = F.col(column)
    if isinstance(data_type, T.StringType):
        return C.escape_formula(col)
    if isinstance(data_type, T.DateType):
        return F.date_format(col, C.DATE_FORMAT)
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return F.date_format(col, C.TIMESTAMP_FORMAT)
    if isinstance(data_type, T.DecimalType):
        return col.cast("decimal(38,2)").cast("string")
    if isinstance(data_type, (T.FloatType, T.DoubleType)):
        return F.format_string("%.2f", col)
    return col.cast("string")


def format_for_csv(df: DataFrame) -> DataFrame:
    """Every column as text in the SPEC's formats; text from the inputs made
    formula-safe. Column order is kept."""
    return df.select(*[_as_text(f.name, f.dataType).alias(f.name) for f in df.schema.fields])


def write_csv(df: DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` (already in the SPEC's row order) to ``path`` as one CSV."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    formatted = format_for_csv(df)
    try:
        formatted.coalesce(1).write.options(**CSV_OPTIONS).csv(str(scratch))
        parts = sorted(scratch.glob("part-*"))
        if not parts:  # no rows: Spark may write no part file at all
            empty = scratch / "part-empty.csv"
            empty.write_text(",".join(_header_field(c) for c in formatted.columns) + "\n")
            parts = [empty]
        os.replace(parts[0], target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _header_field(name: str) -> str:
    if any(ch in name for ch in ',"\n\r'):
        return '"' + name.replace('"', '""') + '"'
    return name


def remove_stale_temp_files(folder: str | os.PathLike) -> None:
    """Drop scratch folders left by a run that was killed mid-write."""
    for stale in Path(folder).glob(".*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
