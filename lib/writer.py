"""Write a DataFrame as one CSV file in the format of docs/contract.md §5.1, atomically.

Spark writes the sorted partitions in parallel into a hidden scratch folder
next to the target; the part files are joined behind one header into a hidden
file that is renamed over the target (same file system, so the rename is
atomic): a crash leaves the old file or the new one, never half. Rows never
pass through the driver's memory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, NamedTuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib import columns as C
from lib.fileio import replacing, scratch_path

_COPY_BUFFER = 16 * 1024 * 1024
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
    """Every column as text in the formats of docs/contract.md §5.1; text from the
    inputs made formula-safe. Column order is kept."""
    return df.select(*[_as_text(f.name, f.dataType).alias(f.name) for f in df.schema.fields])


def read_written(spark: SparkSession, path: str | os.PathLike, schema: T.StructType) -> DataFrame:
    """A CSV :func:`write_csv` wrote, read back with the schema of the DataFrame
    it was written from. Numbers, dates, booleans and plain labels come back as
    they were; text that was made formula-safe keeps its leading ``'``."""
    return (spark.read.schema(schema)
            .options(**CSV_OPTIONS, dateFormat=C.DATE_FORMAT, timestampFormat=C.TIMESTAMP_FORMAT)
            .csv(str(path)))


class Written(NamedTuple):
    path: Path
    rows: int  # data rows, without the header


def write_csv(df: DataFrame, path: str | os.PathLike) -> Written:
    """Write ``df`` (already in the contract's row order) to ``path`` as one CSV.

    Spark writes the sorted partitions in parallel as headerless part files
    (numbered in partition order); they are then concatenated behind one
    header into a hidden file next to the target, which is renamed over it.
    The rows are counted while they are copied, so no Spark job counts them.
    """
    target = Path(path)
    scratch = scratch_path(target)
    formatted = format_for_csv(df)
    rows = 0
    try:
        formatted.write.options(**{**CSV_OPTIONS, "header": "false"}).csv(str(scratch))
        with replacing(target) as joined, joined.open("wb") as out:
            out.write((",".join(_header_field(c) for c in formatted.columns) + "\n").encode())
            for part in sorted(scratch.glob("part-*")):
                rows += copy_counting_rows(part, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Written(target, rows)


def copy_counting_rows(part: Path, out: BinaryIO) -> int:
    """Append ``part`` to ``out``; return its records.

    A record ends at a newline outside quotes. Spark doubles a quote inside a
    quoted field, so every quote toggles between outside and inside: split on
    the quotes, the pieces alternate, and the newlines of the outside pieces
    end records. Chunks without quotes are counted with one ``count``. (Line by
    line on the quotes' parity took about 1 s per million rows once one row in
    ten holds a quote; parsing with the csv module about 3 s.)
    """
    records, inside = 0, False
    with part.open("rb") as chunks:
        while chunk := chunks.read(_COPY_BUFFER):
            out.write(chunk)
            pieces = chunk.split(b'"')
            records += sum(piece.count(b"\n") for piece in pieces[inside::2])
            inside ^= len(pieces) % 2 == 0  # an odd number of quotes in the chunk
    return records


def _header_field(name: str) -> str:
    if any(ch in name for ch in ',"\n\r'):
        return '"' + name.replace('"', '""') + '"'
    return name
