"""Write a DataFrame as one SPEC-formatted CSV file, atomically.

Spark writes the sorted partitions in parallel into a hidden scratch folder
next to the target; the part files are joined behind one header into a hidden
file that is renamed over the target (same file system, so the rename is
atomic): a crash leaves the old file or the new one, never half. Rows never
pass through the driver's memory.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib import columns as C

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
    """Every column as text in the SPEC's formats; text from the inputs made
    formula-safe. Column order is kept."""
    return df.select(*[_as_text(f.name, f.dataType).alias(f.name) for f in df.schema.fields])


def write_csv(df: DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` (already in the SPEC's row order) to ``path`` as one CSV.

    Spark writes the sorted partitions in parallel as headerless part files
    (numbered in partition order); they are then concatenated behind one
    header into a hidden file next to the target, which is renamed over it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    scratch = target.parent / f".{target.name}.{token}.tmp"
    joined = target.parent / f".{target.name}.{token}.part.tmp"
    formatted = format_for_csv(df)
    try:
        formatted.write.options(**{**CSV_OPTIONS, "header": "false"}).csv(str(scratch))
        with joined.open("wb") as out:
            out.write((",".join(_header_field(c) for c in formatted.columns) + "\n").encode())
            for part in sorted(scratch.glob("part-*")):
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, _COPY_BUFFER)
        os.replace(joined, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        joined.unlink(missing_ok=True)
    return target


def _header_field(name: str) -> str:
    if any(ch in name for ch in ',"\n\r'):
        return '"' + name.replace('"', '""') + '"'
    return name


def remove_stale_temp_files(folder: str | os.PathLike) -> None:
    """Drop scratch folders and files left by a run that was killed mid-write."""
    for stale in Path(folder).glob(".*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A scratch path next to ``path`` to write a whole file to; renamed over
    ``path`` when the block ends without an error, so ``path`` is always its
    old or its new complete version (a chart: ``fig.savefig(scratch,
    format="png")``). A killed writer leaves only the hidden scratch."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield scratch
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


# -- the output folder between runs ---------------------------------------------

RUN_LOCK = ".run.lock"


def lock_output_dir(output_dir: Path):
    """Hold ``<output>/.run.lock`` for a whole run (the OS releases it when
    the process ends, even by ``kill -9``): a second run into the same folder
    stops with a clear message instead of mixing its files with ours. Keep
    the returned handle open for as long as the run lasts."""
    from lib.errors import TicketInsightsError

    output_dir.mkdir(parents=True, exist_ok=True)
    handle = (output_dir / RUN_LOCK).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise TicketInsightsError(
            f"another run (pid {owner}) is writing to {output_dir}; wait for it to "
            "finish or choose another --output-dir"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def remove_stale_scratch(params) -> None:
    """What a killed run left half-done, removed before a new run (under its
    :func:`lock_output_dir`): hidden CSV scratch folders, table scratch and a
    table caught between its two renames (:func:`lib.tables.recover`),
    half-built staging. Finished outputs are never touched: each is its old
    or its new complete version."""
    from lib.stage import remove_stale_builds
    from lib.tables import recover

    for folder in (params.output_dir, params.rejects_dir, params.charts_dir,
                   params.warehouse_dir):
        if folder.is_dir():
            remove_stale_temp_files(folder)
    recover(params.warehouse_dir)
    remove_stale_builds(params)
