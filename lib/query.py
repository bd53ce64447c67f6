"""Query the persisted Spark SQL tables from a shell; the result is CSV on stdout,
formatted as the CSV files are (docs/contract.md §5.1); errors are one line, exit 2.

    python -m lib.query --output-dir output "SELECT season, count(*) AS orders
        FROM tickets_denormalized GROUP BY season ORDER BY season"
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession

from lib.errors import TicketInsightsError, UnknownTableError
from lib.tables import register_tables, warehouse_of

EXIT_ERROR = 2
_RUN_FIRST = "run notebooks 08 and 09 first (make run ONLY=08,09)"


def _condition(error: AnalysisException) -> str | None:
    getter = getattr(error, "getCondition", None) or getattr(error, "getErrorClass", None)
    return getter() if getter else None


def _missing_table(error: AnalysisException) -> str:
    params = error.getMessageParameters() or {}
    return params.get("relationName", "?")


def run_query(
    spark: SparkSession, warehouse: Path, sql: str, out: TextIO, limit: int | None = None
) -> int:
    """Register the tables under ``warehouse``, run ``sql`` and write the
    result to ``out`` as CSV. Returns the number of data rows written."""
    from lib.writer import format_for_csv

    tables = register_tables(spark, warehouse)
    if not tables:
        raise UnknownTableError(f"no tables under {warehouse}: {_RUN_FIRST}")
    try:
        result = spark.sql(sql)
        if limit is not None:
            result = result.limit(limit)
        formatted = format_for_csv(result)  # resolves the plan: errors surface here
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(formatted.columns)
        written = 0
        for row in formatted.toLocalIterator():
            writer.writerow(row)
            written += 1
    except AnalysisException as error:
        if _condition(error) == "TABLE_OR_VIEW_NOT_FOUND":
            raise UnknownTableError(
                f"table or view {_missing_table(error)} not found. Tables in {warehouse}: "
                f"{', '.join(tables)}. (Tables are written by notebooks 08 and 09: "
                "make run ONLY=08,09)"
            ) from None
        raise TicketInsightsError(f"query failed: {_first_line(error)}") from None
    return written


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib.query",
        description="Run Spark SQL on the tables of notebooks 08 and 09; print CSV.",
    )
    parser.add_argument("sql", help='e.g. "SELECT count(*) AS n FROM tickets_denormalized"')
    parser.add_argument(
        "--output-dir",
        default="output",
        help="the notebooks' output folder (relative: from the project root); default: output",
    )
    parser.add_argument("--limit", type=int, default=None, help="print at most this many rows")
    return parser


def _quiet_pyspark_error_logs() -> None:
    """PySpark logs every analysis error with its JVM stack trace before raising
    it; the CLI reports the error itself, in one line."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _quiet_pyspark_error_logs()
    try:
        warehouse = warehouse_of(args.output_dir)
        if not warehouse.is_dir():
            raise UnknownTableError(f"no tables: {warehouse} does not exist; {_RUN_FIRST}")
        from lib.session import get_spark

        spark = get_spark("ticket-insights-query")
        try:
            run_query(spark, warehouse, args.sql, sys.stdout, args.limit)
        finally:
            spark.stop()
    except TicketInsightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
